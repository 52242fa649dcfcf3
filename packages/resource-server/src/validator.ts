import { compactVerify, decodeProtectedHeader, errors, type ProtectedHeaderParameters } from 'jose';
import { audienceList, typedClaims, type AccessTokenClaims } from './claims.ts';
import type { ValidatorOptions } from './defaults.ts';
import { JwksUnavailableError, TokenValidationError } from './errors.ts';
import { isObject } from './lib/http.ts';
import { JwksCache } from './lib/jwks-cache.ts';
import { MetadataSource } from './lib/metadata.ts';
import { isForbiddenAlgorithm, resolveValidatorOptions, type ResolvedValidatorOptions } from './lib/options.ts';

export interface Validator {
  readonly issuer: string;
  readonly audience: string;
  /**
   * Verifies a JWT access token (RFC 9068) and resolves to its claims. Rejects with a
   * {@link TokenValidationError} whose `check` names the check that failed, or with a
   * {@link JwksUnavailableError} when the issuer's keys cannot be had.
   */
  validate(token: string): Promise<AccessTokenClaims>;
}

/**
 * A validator of the JWT access tokens (RFC 9068) that `issuer` issues for `audience`. The JWKS URI
 * comes from the issuer's metadata (RFC 8414, then OpenID Connect Discovery), fetched on first use.
 *
 * @example
 * const validator = createValidator({ issuer: 'https://auth.example.com', audience: 'https://api.example.com' });
 * const claims = await validator.validate(token); // claims.sub, claims.scope: string[], ...
 */
export function createValidator(options: ValidatorOptions): Validator {
  const config = resolveValidatorOptions(options);
  const keys = new JwksCache(new MetadataSource(config), config);
  return {
    issuer: config.issuer,
    audience: config.audience,
    validate: (token) => validateToken(config, keys, token),
  };
}

/**
 * The checks, in order; the first that fails names itself in the error. Header checks come before
 * the signature (nothing is fetched or verified for a token we would refuse anyway), claim checks
 * after it (claims mean nothing until the signature holds).
 */
async function validateToken(config: ResolvedValidatorOptions, keys: JwksCache, token: string): Promise<AccessTokenClaims> {
  checkSize(config, token);
  const header = readHeader(token);
  checkAlgorithm(config, header);
  refuseEmbeddedKeys(header);
  refuseCrit(header);
  const payload = await verifySignature(config, keys, token);
  checkTyp(config, header);
  checkIssuer(config, payload);
  checkAudience(config, payload);
  checkTimes(config, payload);
  return typedClaims(payload, config.requiredClaims);
}

/** docs/security.md K74, RFC 8725 §3.1 via Authlib CVE-2025-59420: the size is capped before any decoding. */
function checkSize(config: ResolvedValidatorOptions, token: string): void {
  if (typeof token !== 'string') throw new TokenValidationError('malformed', 'the token is not a string');
  if (token.length > config.maxTokenLength) throw new TokenValidationError('size', `longer than ${config.maxTokenLength} characters`);
}

/** RFC 7515 §7.1: three base64url parts; the protected header is a JSON object. JWE is not accepted. */
function readHeader(token: string): ProtectedHeaderParameters {
  if (token.split('.').length !== 3) throw new TokenValidationError('malformed', 'not a compact JWS');
  try {
    return decodeProtectedHeader(token);
  } catch (cause) {
    throw new TokenValidationError('malformed', 'the protected header is not a JSON object', { cause });
  }
}

/**
 * RFC 8725 §3.1: "libraries MUST enable the caller to specify a supported set of algorithms and MUST
 * NOT use any other algorithms". The list is the configuration's; `none` and HMAC never pass, even
 * if a configuration somehow named them (jsonwebtoken CVE-2022-23540, CVE-2022-23541).
 */
function checkAlgorithm(config: ResolvedValidatorOptions, header: ProtectedHeaderParameters): void {
  const { alg } = header;
  if (typeof alg !== 'string' || isForbiddenAlgorithm(alg) || !config.algorithms.includes(alg)) {
    throw new TokenValidationError('algorithm', 'the alg header is not an accepted algorithm');
  }
}

/**
 * RFC 8725 §3.10 and docs/security.md K73: keys come from the issuer's JWKS only. A token that carries a key
 * or points at one (`jwk`, `jku`, `x5u`, `x5c`) is refused outright (Authlib CVE-2026-27962).
 */
function refuseEmbeddedKeys(header: ProtectedHeaderParameters): void {
  for (const member of ['jwk', 'jku', 'x5u', 'x5c'] as const) {
    if (Object.hasOwn(header, member)) throw new TokenValidationError('key', `the token carries a "${member}" header`);
  }
}

/**
 * RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not understood and supported
 * by the recipient, then the JWS is invalid." This validator understands none (not even `b64`, which
 * changes what is signed), so any `crit` is refused, before the signature it would change.
 */
function refuseCrit(header: ProtectedHeaderParameters): void {
  if (Object.hasOwn(header, 'crit')) throw new TokenValidationError('crit', 'the token has a crit header');
}

/** jose verifies the signature with the issuer's key for this header, under the same algorithm list. */
async function verifySignature(config: ResolvedValidatorOptions, keys: JwksCache, token: string): Promise<Record<string, unknown>> {
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, (header) => keys.key(header), { algorithms: config.algorithms }));
  } catch (err) {
    throw signatureError(err);
  }
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (cause) {
    throw new TokenValidationError('malformed', 'the payload is not JSON', { cause });
  }
  // RFC 7519 §7.2 step 10: the payload is a JWT Claims Set, a JSON object.
  if (!isObject(claims)) throw new TokenValidationError('malformed', 'the payload is not a JSON object');
  return claims;
}

/** Maps jose's errors to the check they stand for; anything unexpected is rethrown as it is. */
function signatureError(err: unknown): unknown {
  if (err instanceof JwksUnavailableError || err instanceof TokenValidationError) return err;
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenValidationError('key', 'no key of the issuer matches the header', { cause: err });
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenValidationError('key', 'several keys of the issuer match a header without kid', { cause: err });
  }
  if (err instanceof errors.JOSENotSupported) return new TokenValidationError('key', 'the matching key cannot be used', { cause: err });
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenValidationError('algorithm', 'the alg header is not an accepted algorithm', { cause: err });
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenValidationError('signature', undefined, { cause: err });
  if (err instanceof errors.JWSInvalid) return new TokenValidationError('malformed', 'not a valid JWS', { cause: err });
  return err;
}

/**
 * RFC 9068 §4: "Resource servers MUST verify that the typ header value is at+jwt or
 * application/at+jwt and reject tokens carrying any other value." An ID token (typ JWT) is refused.
 * Media types compare without regard to case (RFC 7515 §4.1.9). A validator for the gateway's
 * forwarded tokens expects `gateway+jwt` instead (RFC 8725 §3.11), so neither passes for the other.
 */
function checkTyp(config: ResolvedValidatorOptions, header: ProtectedHeaderParameters): void {
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : undefined;
  if (typ !== config.tokenType) throw new TokenValidationError('typ', `typ is not ${config.tokenType}`);
}

/** RFC 9068 §4: the issuer identifier "MUST exactly match the value of the iss claim" (not a prefix: PyJWT CVE-2024-53861). */
function checkIssuer(config: ResolvedValidatorOptions, payload: Record<string, unknown>): void {
  if (payload.iss !== config.issuer) throw new TokenValidationError('issuer', 'iss is not the configured issuer');
}

/** RFC 9068 §4: the aud claim must contain this resource's identifier; tokens for other APIs are refused. */
function checkAudience(config: ResolvedValidatorOptions, payload: Record<string, unknown>): void {
  if (!audienceList(payload.aud)?.includes(config.audience)) throw new TokenValidationError('audience', 'aud does not name this resource');
}

/** RFC 7519 §4.1.4, §4.1.5: `exp` in the future and `nbf` in the past, each within the leeway. */
function checkTimes(config: ResolvedValidatorOptions, payload: Record<string, unknown>): void {
  const now = Math.floor(Date.now() / 1000);
  const leeway = config.clockToleranceSeconds;
  // A missing or non-numeric exp is the claims check's to refuse.
  if (typeof payload.exp === 'number' && payload.exp <= now - leeway) throw new TokenValidationError('expired');
  if (typeof payload.nbf === 'number' && payload.nbf > now + leeway) throw new TokenValidationError('not_yet_valid');
}
