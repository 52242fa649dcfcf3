import { createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * A small synchronous JWS signer (node:crypto), so that every private_key_jwt request of the fuzz run
 * carries a fresh assertion without jose's WebCrypto round trips, and forged tokens can be signed
 * with anything (another key, an HMAC over a public key).
 */

export interface SigningKey {
  alg: 'ES256' | 'EdDSA';
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function generateSigningKey(alg: 'ES256' | 'EdDSA', kid: string): SigningKey {
  const { privateKey, publicKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return { alg, kid, privateKey, publicKey };
}

/** The public JWK to register for a key. */
export function publicJwk(key: SigningKey): Record<string, unknown> {
  return { ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, alg: key.alg, use: 'sig' };
}

/** The signature segment over `signingInput` with the key, for ES256 (IEEE P1363 form) and EdDSA. */
export function signature(signingInput: string, key: SigningKey): string {
  const data = Buffer.from(signingInput);
  const sig = key.alg === 'ES256' ? sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }) : sign(null, data, key.privateKey);
  return sig.toString('base64url');
}

export function hmacSignature(signingInput: string, secret: string | Buffer): string {
  return createHmac('sha256', secret).update(signingInput).digest('base64url');
}

/** A compact JWS of `claims` signed by `key`, with `header` merged over the usual one. */
export function signJwt(claims: Record<string, unknown>, key: SigningKey, header: Record<string, unknown> = {}): string {
  const input = `${b64json({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })}.${b64json(claims)}`;
  return `${input}.${signature(input, key)}`;
}

export const randomJti = (): string => randomBytes(12).toString('base64url');

/** The decoded JSON of a segment, or undefined. */
export function decodeSegment(segment: string | undefined): unknown {
  if (segment === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}
