import { nowSeconds } from '../lib/clock.ts';
import type { JWTPayload } from 'jose';
import { CLOCK_TOLERANCE_SECONDS } from '../config/defaults.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import { randomId128, randomToken, sha256 } from '../lib/random.ts';
import type { AccessTokenFormat, ActClaim } from '../registry/types.ts';
import type { OpaqueTokenStore } from '../storage/opaque-token-store.ts';
import type { Confirmation } from './confirmation.ts';
import { signCompact } from './jws-sign.ts';
import { authenticationClaims, type Authentication } from '../users/authentication-context.ts';
import { headerKeys, verifyOwnCompact, type HeaderKey } from './own-token-verify.ts';

/** RFC 9068 §2.1: the `typ` header of a JWT access token. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** Tokens larger than this are not even parsed. Ours are well under 2 KiB. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

export interface AccessTokenRequest {
  /** 'jwt' (RFC 9068) or 'opaque' (a random reference stored hashed, for introspection). */
  format: AccessTokenFormat;
  issuer: string;
  subject: string;
  clientId: string;
  audience: string[];
  scope: string[];
  ttlSeconds: number;
  /** RFC 8693 §4.1: the actor of a delegated (exchanged) token; absent otherwise. */
  act?: ActClaim;
  /** RFC 9449 §6 / RFC 8705 §3: the key or certificate the token is bound to; absent: a bearer token. */
  cnf?: Confirmation;
  /** The user's sign-in behind the token (`auth_time`, `acr`, `amr`); absent: no user signed in (client credentials). */
  authentication?: Authentication;
}


export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
  /** Identifies the token for revocation (its `jti`, also for opaque tokens). */
  jti: string;
  expiresAt: number;
}

/** Claims of a verified Latchkey access token. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
  act?: ActClaim;
  cnf?: Confirmation;
  auth_time?: number;
  acr?: string;
  amr?: string[];
}

/** Prefix of opaque access tokens: tells them from JWTs at a glance, and helps secret scanners. */
export const OPAQUE_TOKEN_PREFIX = 'lko_';

/**
 * Issues an access token: a JWT, which writes nothing anywhere, or an opaque token (256 random bits),
 * stored only as its SHA-256 for introspection and revocation.
 */
export async function issueAccessToken(ring: KeyRing, opaqueTokens: OpaqueTokenStore, request: AccessTokenRequest): Promise<IssuedAccessToken> {
  if (request.format === 'jwt') return signAccessToken(ring, request);
  const token = `${OPAQUE_TOKEN_PREFIX}${randomToken(32)}`;
  const issuedAt = nowSeconds();
  const jti = randomId128();
  await opaqueTokens.insert({
    tokenHash: sha256(token),
    jti,
    clientId: request.clientId,
    subject: request.subject,
    audience: request.audience,
    scope: request.scope.join(' '),
    issuedAt,
    expiresAt: issuedAt + request.ttlSeconds,
    act: request.act ?? null,
    cnf: request.cnf ?? null,
    authentication: request.authentication ?? null,
  });
  return { token, expiresIn: request.ttlSeconds, jti, expiresAt: issuedAt + request.ttlSeconds };
}

/**
 * Signs a JWT access token per RFC 9068 §2.2: `iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti`,
 * and `scope` (§2.2.3); an exchanged token also has `act` (RFC 8693 §4.1). Writes nothing anywhere.
 */
async function signAccessToken(ring: KeyRing, request: AccessTokenRequest): Promise<IssuedAccessToken> {
  const signer = await ring.signer('ES256');
  const iat = nowSeconds();
  const exp = iat + request.ttlSeconds;
  const jti = randomId128();
  const token = signCompact(signer, ACCESS_TOKEN_TYP, {
    iss: request.issuer,
    sub: request.subject,
    // RFC 9068 §2.2: a single audience is a string, several an array.
    aud: request.audience.length === 1 ? request.audience[0]! : request.audience,
    exp,
    iat,
    jti,
    client_id: request.clientId,
    scope: request.scope.join(' '),
    ...(request.act ? { act: request.act } : {}),
    // RFC 9449 §6.1: "the JWT ... MUST include a cnf claim with a jkt member"; RFC 8705 §3.1 x5t#S256.
    ...(request.cnf ? { cnf: request.cnf } : {}),
    // RFC 9068 §2.2.1: auth_time, acr and amr of the user's authentication, for step-up (RFC 9470 §6.1).
    ...(request.authentication ? authenticationClaims(request.authentication) : {}),
  });
  return { token, expiresIn: request.ttlSeconds, jti, expiresAt: exp };
}

/**
 * Verifies a token that claims to be one of ours: size, exact protected header of a published key
 * (so `alg`, `kid` and `typ: at+jwt` are ours), signature, exact `iss`, `exp`, and the claims RFC 9068
 * §2.2 requires. Returns undefined for anything that is not a valid, unexpired Latchkey access token
 * (introspection answers such tokens as inactive). The hostile-token tests cover this function.
 */
export async function verifyOwnAccessToken(
  ring: KeyRing,
  issuer: string,
  token: string,
): Promise<AccessTokenClaims | undefined> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  let result = verifyOwnCompact(token, await accessTokenKeys(ring));
  // A header we do not know: another node may have rotated first; read the keys again (rate limited).
  if (result === 'unknown-header' && (await ring.reloadForUnknownKid())) {
    result = verifyOwnCompact(token, await accessTokenKeys(ring));
  }
  if (result === undefined || result === 'unknown-header') return undefined;
  return checkClaims(result, issuer);
}

/** The header maps of the key sets they were made from: one per snapshot of the keys. */
const headerMaps = new WeakMap<object, ReadonlyMap<string, HeaderKey>>();

/** The published keys by the exact header of the access tokens they sign (tokens/own-token-verify.ts). */
async function accessTokenKeys(ring: KeyRing): Promise<ReadonlyMap<string, HeaderKey>> {
  const jwks = await ring.jwks();
  let keys = headerMaps.get(jwks);
  if (!keys) {
    keys = headerKeys(jwks.keys, ACCESS_TOKEN_TYP);
    headerMaps.set(jwks, keys);
  }
  return keys;
}

/** RFC 9068 §2.2 claims, with their types; `iss` exact; `exp` in the future (no tolerance, see below); `nbf` passed. */
function checkClaims(claims: Record<string, unknown>, issuer: string): AccessTokenClaims | undefined {
  const { iss, sub, aud, exp, iat, jti, client_id: clientId, scope, nbf } = claims;
  // RFC 9068 §4: the issuer identifier MUST exactly match the `iss` claim.
  if (iss !== issuer) return undefined;
  if (typeof sub !== 'string' || typeof jti !== 'string' || typeof clientId !== 'string') return undefined;
  if (typeof exp !== 'number' || !Number.isFinite(exp) || typeof iat !== 'number' || !Number.isFinite(iat)) return undefined;
  if (!(typeof aud === 'string' || (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')))) {
    return undefined;
  }
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  if (claims.cnf !== undefined && !isConfirmation(claims.cnf)) return undefined;
  if (claims.auth_time !== undefined && (typeof claims.auth_time !== 'number' || !Number.isFinite(claims.auth_time))) return undefined;
  if (claims.acr !== undefined && typeof claims.acr !== 'string') return undefined;
  if (claims.amr !== undefined && !(Array.isArray(claims.amr) && claims.amr.every((m) => typeof m === 'string'))) return undefined;
  const now = nowSeconds();
  // RFC 7662 §2.2: active means "before its expiration time". This server set `exp` itself, so no
  // tolerance: a token is inactive here from the second it expires.
  if (now >= exp) return undefined;
  // RFC 7519 §4.1.5: the token "MUST NOT be accepted for processing" before `nbf`, "some small leeway"
  // allowed for clock skew (the same tolerance as elsewhere). Latchkey sets no nbf; a token that has
  // one was not made by this code, and is held to it.
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf) || nbf > now + CLOCK_TOLERANCE_SECONDS)) return undefined;
  return claims as AccessTokenClaims;
}

/** A `cnf` claim of the one shape Latchkey issues: exactly one of `jkt` and `x5t#S256`, a string. */
function isConfirmation(value: unknown): value is Confirmation {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1 || (keys[0] !== 'jkt' && keys[0] !== 'x5t#S256')) return false;
  return typeof (value as Record<string, unknown>)[keys[0]!] === 'string';
}
