import { createHash } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { IdTokenValidationError, type IdTokenCheck } from './errors.ts';
import { sameString } from './lib/random.ts';

/** The claims of a validated ID token (OpenID Connect Core §2, §5.1). */
export interface IdTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  auth_time?: number;
  nonce?: string;
  azp?: string;
  at_hash?: string;
  name?: string;
  preferred_username?: string;
  email?: string;
  email_verified?: boolean;
}

export interface IdTokenExpectations {
  issuer: string;
  clientId: string;
  /** Accepted `alg` values; never taken from the token. */
  algorithms: readonly string[];
  clockToleranceSeconds: number;
  /** The nonce of the authorization request; undefined when there was none (refresh, device flow). */
  nonce?: string | undefined;
  /** The access token issued with the ID token, checked against `at_hash`. */
  accessToken?: string | undefined;
  /** The `max_age` of the authorization request: `auth_time` is then required and checked. */
  maxAgeSeconds?: number | undefined;
  /** The ID token of the same login, when this one comes from a refresh (OIDC Core §12.2). */
  previous?: IdTokenClaims | undefined;
}

/**
 * Validates an ID token as OpenID Connect Core §3.1.3.7 asks: the signature with the server's keys and
 * an allowed algorithm, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, then `at_hash` (§3.1.3.8),
 * `auth_time` against `max_age`, and, after a refresh, the same `sub` and `auth_time` (§12.2).
 * Throws an IdTokenValidationError naming the failed check.
 */
export async function validateIdToken(idToken: string, keys: JWTVerifyGetKey, expected: IdTokenExpectations): Promise<IdTokenClaims> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    if (idToken.split('.').length !== 3) throw new TypeError('not three parts');
    header = decodeProtectedHeader(idToken);
  } catch (err) {
    throw new IdTokenValidationError('format', 'not a JWS in compact serialization', { cause: err });
  }
  // An access token (RFC 9068 `at+jwt`) or a logout token must never pass as an ID token.
  if (header.typ !== undefined && !/^(application\/)?jwt$/i.test(header.typ)) {
    throw new IdTokenValidationError('typ', `unexpected typ ${JSON.stringify(header.typ)}`);
  }

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keys, {
      // OIDC Core §3.1.3.7 (2): "The Issuer Identifier ... MUST exactly match the value of the iss Claim."
      issuer: expected.issuer,
      // (3): "The Client MUST validate that the aud Claim contains its client_id value".
      audience: expected.clientId,
      // (6)-(8): the signature, with the alg the client expects, never `none`.
      algorithms: [...expected.algorithms],
      // (9): "The current time MUST be before the time represented by the exp Claim".
      clockTolerance: expected.clockToleranceSeconds,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    }));
  } catch (err) {
    throw fromJoseError(err);
  }
  const claims = payload as IdTokenClaims;
  const now = Math.floor(Date.now() / 1000);
  const tolerance = expected.clockToleranceSeconds;

  if (typeof claims.sub !== 'string' || claims.sub === '') throw new IdTokenValidationError('sub', 'sub is not a non-empty string');
  // (3): the ID token "MUST be rejected if ... it contains additional audiences not trusted by the Client".
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (audiences.some((a) => a !== expected.clientId)) {
    throw new IdTokenValidationError('aud', 'the token has audiences other than this client');
  }
  // (5): "If an azp (authorized party) Claim is present, the Client SHOULD verify that its client_id is the Claim Value."
  if (claims.azp !== undefined && claims.azp !== expected.clientId) {
    throw new IdTokenValidationError('azp', `azp is ${JSON.stringify(claims.azp)}, not this client`);
  }
  // (10): "The iat Claim can be used to reject tokens that were issued too far away from the current time".
  if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) throw new IdTokenValidationError('iat', 'iat is not a number');
  if (claims.iat > now + tolerance) throw new IdTokenValidationError('iat', 'iat is in the future');

  // (11): "If a nonce value was sent in the Authentication Request, a nonce Claim MUST be present and
  // its value checked to verify that it is the same value as the one that was sent".
  if (expected.nonce !== undefined) {
    if (typeof claims.nonce !== 'string' || !sameString(claims.nonce, expected.nonce)) {
      throw new IdTokenValidationError('nonce', 'the nonce is not the one this login sent');
    }
  } else if (claims.nonce !== undefined && expected.previous?.nonce !== undefined && claims.nonce !== expected.previous.nonce) {
    // §12.2: a refreshed ID token's nonce, if present, is the one of the original authentication.
    throw new IdTokenValidationError('nonce', 'the nonce differs from the original ID token');
  }

  // (13): "If the max_age request parameter was used, the Client SHOULD check the auth_time Claim value".
  if (expected.maxAgeSeconds !== undefined) {
    if (typeof claims.auth_time !== 'number') throw new IdTokenValidationError('auth_time', 'max_age was requested but auth_time is missing');
    if (claims.auth_time + expected.maxAgeSeconds < now - tolerance) {
      throw new IdTokenValidationError('auth_time', 'the login is older than max_age');
    }
  }

  // §3.1.3.8 / §3.3.2.11: at_hash is the left half of the hash of the access token, with the hash of the alg.
  if (expected.accessToken !== undefined && claims.at_hash !== undefined) {
    const hash = hashForAlg(header.alg);
    const digest = createHash(hash).update(expected.accessToken, 'ascii').digest();
    const computed = digest.subarray(0, digest.length / 2).toString('base64url');
    if (typeof claims.at_hash !== 'string' || !sameString(claims.at_hash, computed)) {
      throw new IdTokenValidationError('at_hash', 'at_hash does not match the access token');
    }
  }

  // §12.2: after a refresh, "its sub Claim Value MUST be the same as in the ID Token issued when the
  // original authentication occurred", and auth_time, if present, the time of that authentication.
  if (expected.previous) {
    if (claims.sub !== expected.previous.sub) throw new IdTokenValidationError('sub', 'the refreshed ID token names another user');
    if (claims.auth_time !== undefined && expected.previous.auth_time !== undefined && claims.auth_time !== expected.previous.auth_time) {
      throw new IdTokenValidationError('auth_time', 'the refreshed ID token has another auth_time');
    }
  }
  return claims;
}

function hashForAlg(alg: string | undefined): 'sha256' | 'sha384' | 'sha512' {
  if (alg?.endsWith('384')) return 'sha384';
  if (alg?.endsWith('512')) return 'sha512';
  return 'sha256';
}

/** Maps jose's verification errors to the check that failed. */
function fromJoseError(err: unknown): IdTokenValidationError {
  const fail = (check: IdTokenCheck, message: string) => new IdTokenValidationError(check, message, { cause: err });
  if (err instanceof errors.JWTExpired) return fail(err.claim === 'iat' ? 'iat' : 'exp', err.message);
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim as IdTokenCheck;
    const known: IdTokenCheck[] = ['iss', 'aud', 'sub', 'exp', 'iat', 'nbf', 'typ'];
    return fail(known.includes(claim) ? claim : 'format', err.message);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return fail('alg', err.message);
  if (err instanceof errors.JWSSignatureVerificationFailed) return fail('signature', err.message);
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return fail('signature', `no single key of the server's JWKS matches the token (${err.message})`);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return fail('format', err.message);
  // Anything else comes from fetching the JWKS: a timeout, an invalid set, a network failure.
  return fail('jwks', `the server's keys could not be fetched: ${err instanceof Error ? err.message : String(err)}`);
}
