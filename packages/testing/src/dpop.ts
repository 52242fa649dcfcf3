import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** What a proof may be made with; every field can be bent to make a hostile proof. */
export interface ProofOptions {
  /** The request's method; POST unless given. */
  htm?: string;
  htu: string;
  /** The access token the proof goes with (its hash becomes `ath`). */
  accessToken?: string;
  nonce?: string;
  iat?: number;
  jti?: string;
  typ?: string;
  /** Extra or overriding claims (undefined removes one). */
  claims?: Record<string, unknown>;
  /** Extra or overriding header members (undefined removes one). */
  header?: Record<string, unknown>;
}

/** A client's DPoP key pair (RFC 9449 §4) and the proofs it signs, as an honest or a hostile test client makes them. */
export interface DpopProver {
  /** The public JWK that goes in the proof's header. */
  jwk: JWK;
  /** The private JWK (to put it where it does not belong). */
  privateJwk: JWK;
  /** RFC 7638 thumbprint of the public key: the `cnf.jkt` of bound tokens, the `dpop_jkt` parameter. */
  jkt: string;
  privateKey: CryptoKey;
  proof(options: ProofOptions): Promise<string>;
}

/** A new ES256 (or other) DPoP key and its proofs. */
export async function dpopProver(alg: 'ES256' | 'ES384' | 'PS256' | 'EdDSA' = 'ES256'): Promise<DpopProver> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  return {
    jwk,
    privateJwk,
    jkt,
    privateKey,
    proof: (options) => signProof(privateKey, alg, jwk, options),
  };
}

/** The claims of a proof made with `options`. */
export function proofClaims(options: ProofOptions): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    htm: options.htm ?? 'POST',
    htu: options.htu,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    jti: options.jti ?? randomUUID(),
    ...(options.accessToken !== undefined ? { ath: createHash('sha256').update(options.accessToken).digest('base64url') } : {}),
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
  };
  for (const [name, value] of Object.entries(options.claims ?? {})) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  return claims;
}

/** A proof signed with any key and algorithm (a symmetric one too), with `jwk` (if any) in its header. */
export async function signProof(key: CryptoKey | Uint8Array, alg: string, jwk: JWK | undefined, options: ProofOptions): Promise<string> {
  const header: Record<string, unknown> = { alg, typ: options.typ ?? 'dpop+jwt', ...(jwk ? { jwk } : {}) };
  for (const [name, value] of Object.entries(options.header ?? {})) {
    if (value === undefined) delete header[name];
    else header[name] = value;
  }
  return new SignJWT(proofClaims(options)).setProtectedHeader(header as { alg: string }).sign(key);
}

/** An unsigned JWT (`alg: none`) in the shape of a proof, with a junk signature so that it parses. */
export function unsignedProof(jwk: JWK, options: ProofOptions): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'dpop+jwt', jwk })}.${part(proofClaims(options))}.AAAA`;
}
