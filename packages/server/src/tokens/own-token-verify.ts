import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { PublicJwk } from '../keys/key-ring.ts';
import { protectedHeader } from './jws-sign.ts';

/** A published key, by the exact protected header this server writes into tokens it signs with it. */
export interface HeaderKey {
  alg: string;
  key: KeyObject;
}

/**
 * For every published key, the encoded protected header (RFC 7515 §7.1) that this server produces for
 * tokens of type `typ`. A token is only considered when its header is byte-for-byte one of these, so
 * the algorithm, kid and typ are ours and nothing else can be in it: no `crit`, no `jwk`/`jku`/`x5u`/
 * `x5c`, no algorithm chosen by the token (RFC 8725 §3.1, §2.1).
 */
export function headerKeys(jwks: readonly PublicJwk[], typ: string): Map<string, HeaderKey> {
  const map = new Map<string, HeaderKey>();
  for (const jwk of jwks) {
    // Access tokens are only ever signed with ES256 (tokens/access-token.ts): no other header is ours.
    if (jwk.alg !== 'ES256') continue;
    map.set(protectedHeader({ alg: jwk.alg, kid: jwk.kid }, typ), {
      alg: jwk.alg,
      key: createPublicKey({ key: { ...jwk }, format: 'jwk' }),
    });
  }
  return map;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Checks the compact JWS `token` against the published keys and returns its payload as an object, or
 * undefined when it is not a JWS this server signed: wrong shape, unknown header, bad signature, or a
 * payload that is not a JSON object. `unknown-header` tells the caller it may reload the keys.
 */
export function verifyOwnCompact(
  token: string,
  keys: ReadonlyMap<string, HeaderKey>,
): Record<string, unknown> | 'unknown-header' | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  // Node's base64url decoder skips characters outside the alphabet; refuse them before decoding.
  if (!BASE64URL.test(header) || !BASE64URL.test(payload) || !BASE64URL.test(signature)) return undefined;
  const key = keys.get(header);
  if (!key) return 'unknown-header';
  const sig = Buffer.from(signature, 'base64url');
  // RFC 7518 §3.4: an ES256 signature is exactly 64 octets (R || S).
  if (sig.length !== 64) return undefined;
  const input = Buffer.from(`${header}.${payload}`);
  if (!verify('sha256', input, { key: key.key, dsaEncoding: 'ieee-p1363' }, sig)) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return undefined;
  return claims as Record<string, unknown>;
}
