import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { KeyRing } from '../keys/key-ring.ts';
import { SIGNING_ALGORITHMS } from '../keys/key-ring.ts';
import { randomToken } from '../lib/random.ts';
import { signCompact } from './jws-sign.ts';

/** RFC 9068 §2.1: the `typ` header of a JWT access token. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** Tokens larger than this are not even parsed. Ours are well under 2 KiB. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

export interface AccessTokenRequest {
  issuer: string;
  subject: string;
  clientId: string;
  audience: string[];
  scope: string[];
  ttlSeconds: number;
}

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
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
}

/**
 * Signs a JWT access token per RFC 9068 §2.2: `iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti`,
 * and `scope` (§2.2.3). Writes nothing anywhere.
 */
export async function signAccessToken(ring: KeyRing, request: AccessTokenRequest): Promise<IssuedAccessToken> {
  const signer = await ring.signer('ES256');
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + request.ttlSeconds;
  const jti = randomToken(16);
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
  });
  return { token, expiresIn: request.ttlSeconds };
}

/**
 * Verifies a token that claims to be one of ours: size, signature against our published keys,
 * `typ: at+jwt`, exact `iss`, `exp`, and the claims RFC 9068 requires. Returns undefined for anything
 * that is not a valid, unexpired Latchkey access token (introspection answers such tokens as inactive).
 */
export async function verifyOwnAccessToken(
  ring: KeyRing,
  issuer: string,
  token: string,
): Promise<AccessTokenClaims | undefined> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const attempt = async () =>
    jwtVerify<AccessTokenClaims>(token, await ring.keySet(), {
      issuer,
      typ: ACCESS_TOKEN_TYP,
      algorithms: [...SIGNING_ALGORITHMS],
      // RFC 7662 §2.2: active means "before its expiration time". This server set `exp` itself, so no
      // tolerance: a token is inactive here from the second it expires.
      clockTolerance: 0,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
    });
  try {
    const { payload } = await attempt().catch(async (err: unknown) => {
      // A kid we have not seen: another node may have rotated; read the keys again once.
      if (err instanceof errors.JWKSNoMatchingKey && (await ring.reloadForUnknownKid())) return attempt();
      throw err;
    });
    if (typeof payload.client_id !== 'string' || typeof payload.jti !== 'string') return undefined;
    return payload;
  } catch (err) {
    if (err instanceof errors.JOSEError) return undefined;
    throw err;
  }
}
