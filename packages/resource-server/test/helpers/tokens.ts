import { SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { API, type Latchkey } from '@latchkey/testing';

/** Honest RFC 9068 claims for the API, with overrides (undefined removes a claim). */
export function accessClaims(issuer: string, overrides: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: issuer,
    sub: 'svc-a',
    aud: API,
    exp: now + 300,
    iat: now,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    client_id: 'svc-a',
    scope: 'orders:read',
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  return claims;
}

/** Signs claims with the server's current ES256 key (the key in its JWKS), under any header. */
export async function signWithServerKey(latchkey: Latchkey, claims: JWTPayload, header: Partial<JWTHeaderParameters> = {}): Promise<string> {
  const signer = await latchkey.running.server.context.keys.signer('ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: 'at+jwt', ...header }).sign(signer.key);
}
