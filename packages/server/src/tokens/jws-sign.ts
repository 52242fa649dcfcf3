import { sign } from 'node:crypto';
import type { Signer } from '../keys/key-ring.ts';

/**
 * Compact JWS signing (RFC 7515 §7.1) with `node:crypto` on a KeyObject: the token endpoint's hot
 * path, where jose's WebCrypto signing costs about five times as much (bench/ shows it). Only signing
 * is done here; every token is verified with jose or with tokens/own-token-verify.ts, which the
 * hostile-token tests cover.
 */
export function signCompact(signer: Signer, typ: string, payload: Record<string, unknown>): string {
  const signingInput = `${protectedHeader(signer, typ)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  // RFC 7518 §3.4: an ES256 signature is R || S, 32 bytes each (IEEE P1363), not DER.
  // RFC 7518 §3.3: RS256 is RSASSA-PKCS1-v1_5 with SHA-256, node's default RSA padding.
  const signature = sign(
    'sha256',
    Buffer.from(signingInput),
    signer.alg === 'ES256' ? { key: signer.key, dsaEncoding: 'ieee-p1363' } : signer.key,
  );
  return `${signingInput}.${signature.toString('base64url')}`;
}

const headers = new Map<string, string>();

/** The encoded protected header of a signer and type, computed once. */
export function protectedHeader(signer: Pick<Signer, 'alg' | 'kid'>, typ: string): string {
  const cacheKey = `${signer.kid}\u0000${typ}`;
  let encoded = headers.get(cacheKey);
  if (!encoded) {
    encoded = Buffer.from(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ })).toString('base64url');
    headers.set(cacheKey, encoded);
  }
  return encoded;
}
