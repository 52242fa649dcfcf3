import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import {
  SignJWT,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  type CryptoKey,
  type JWK,
} from 'jose';
import type { SigningAlgorithm } from '../config/defaults.ts';

/** The `typ` of the gateway's JWTs (RFC 8725 §3.11: explicit typing, so no other JWT passes for one). */
export const GATEWAY_JWT_TYPE = 'gateway+jwt';

/** The claims the gateway vouches for to an upstream. */
export interface GatewayAssertion {
  sub: string;
  client_id: string;
  scope: string;
}

/** The gateway's key: signs the claims-mode JWTs; its public half is published as a JWKS. */
export class SigningKey {
  private readonly key: CryptoKey;
  readonly kid: string;
  readonly algorithm: SigningAlgorithm;
  private readonly publicJwk: JWK;
  /** Where the key came from, for the startup log. */
  readonly source: string;

  private constructor(
    key: CryptoKey,
    kid: string,
    algorithm: SigningAlgorithm,
    publicJwk: JWK,
    source: string,
  ) {
    this.key = key;
    this.kid = kid;
    this.algorithm = algorithm;
    this.publicJwk = publicJwk;
    this.source = source;
  }

  /**
   * The key of `keyFile` (a private JWK as JSON, or PKCS#8 PEM), or a new one when no file is given.
   * A generated key lives as long as the process: upstreams refetch the JWKS on its new `kid` after a
   * restart, but several gateway instances behind one address need the same key file.
   */
  static async load(keyFile: string | undefined, algorithm: SigningAlgorithm): Promise<{ key: SigningKey; warnings: string[] }> {
    if (keyFile === undefined) {
      const pair = await generateKeyPair(algorithm, { extractable: true });
      const publicJwk = await exportJWK(pair.publicKey);
      return { key: await SigningKey.create(pair.privateKey, algorithm, publicJwk, undefined, 'generated at start'), warnings: [] };
    }
    const warnings: string[] = [];
    // Group or others may read it: the key signs identities every upstream believes.
    if ((statSync(keyFile).mode & 0o077) !== 0) warnings.push(`the signing key file ${keyFile} is readable by group or others; chmod 600 it`);
    const text = readFileSync(keyFile, 'utf8');
    if (text.trimStart().startsWith('-----BEGIN')) {
      const key = await importPKCS8(text, algorithm, { extractable: true });
      const publicJwk = publicPart(await exportJWK(key));
      return { key: await SigningKey.create(key, algorithm, publicJwk, undefined, keyFile), warnings };
    }
    let jwk: JWK;
    try {
      jwk = JSON.parse(text) as JWK;
    } catch {
      throw new Error(`${keyFile} is neither a JSON private JWK nor a PKCS#8 PEM key`);
    }
    if (typeof jwk !== 'object' || jwk === null || typeof jwk.d !== 'string') throw new Error(`${keyFile} holds no private key (no "d")`);
    if (jwk.alg !== undefined && jwk.alg !== algorithm) throw new Error(`${keyFile} is a ${jwk.alg} key, but signing.algorithm is ${algorithm}`);
    const key = (await importJWK(jwk, algorithm)) as CryptoKey;
    return { key: await SigningKey.create(key, algorithm, publicPart(jwk), jwk.kid, keyFile), warnings };
  }

  private static async create(key: CryptoKey, algorithm: SigningAlgorithm, publicJwk: JWK, kid: string | undefined, source: string): Promise<SigningKey> {
    // RFC 7638 thumbprint: a stable kid for a key that names none.
    const id = kid ?? (await calculateJwkThumbprint(publicJwk));
    return new SigningKey(key, id, algorithm, { ...publicJwk, kid: id, alg: algorithm, use: 'sig' }, source);
  }

  /** The JWK Set upstreams verify with (public members only). */
  jwks(): { keys: JWK[] } {
    return { keys: [{ ...this.publicJwk }] };
  }

  /** A JWT for one upstream (`audience`), issued now, expiring at `expiresAt` (seconds since the epoch). */
  sign(issuer: string, audience: string, claims: GatewayAssertion, issuedAt: number, expiresAt: number): Promise<string> {
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: this.algorithm, kid: this.kid, typ: GATEWAY_JWT_TYPE })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(this.key);
  }
}

/** A new private JWK (for `latchkey-gateway keygen`), with its thumbprint as `kid`. */
export async function generatePrivateJwk(algorithm: SigningAlgorithm): Promise<JWK> {
  const pair = await generateKeyPair(algorithm, { extractable: true });
  const jwk = await exportJWK(pair.privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(await exportJWK(pair.publicKey)), alg: algorithm, use: 'sig' };
}

/** The public members of a JWK (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2); private ones never leave. */
function publicPart(jwk: JWK): JWK {
  switch (jwk.kty) {
    case 'EC':
      return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
    case 'OKP':
      return { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
    case 'RSA':
      return { kty: jwk.kty, n: jwk.n, e: jwk.e };
    default:
      throw new Error(`unsupported key type ${String(jwk.kty)}`);
  }
}
