import { importJWK, type CryptoKey, type JSONWebKeySet, type JWK } from 'jose';
import { RegistryError } from '../errors.ts';
import { checkJwksUriSyntax } from './jwks-fetch.ts';

/**
 * The keys a private_key_jwt client signs its assertions with: what may be registered (inline JWKS)
 * and what is used from a fetched jwks_uri document. Public signing keys only.
 */

/**
 * Algorithms a client assertion may be signed with: asymmetric only. `none` and HS* are refused
 * (docs/security.md D38; jsonwebtoken CVE-2022-23540 and CVE-2022-23541): an HMAC "key" would be a secret
 * the server holds, and RFC 7523 client authentication here is by public key. `Ed25519` is RFC 9864's
 * fully-specified name for EdDSA over Ed25519, which oauth4webapi and openid-client send.
 */
export const CLIENT_ASSERTION_ALGORITHMS = ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const;

/** The algorithms each accepted key type signs with, and its curve where it has one. */
const KEY_TYPES: Record<string, { algorithms: readonly string[]; crv?: string; importAs: string }> = {
  RSA: { algorithms: ['RS256', 'PS256'], importAs: 'RS256' },
  EC: { algorithms: ['ES256'], crv: 'P-256', importAs: 'ES256' },
  OKP: { algorithms: ['EdDSA', 'Ed25519'], crv: 'Ed25519', importAs: 'EdDSA' },
};

/** JWK members only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Keys per client at most: enough for a rotation or two. */
export const MAX_CLIENT_KEYS = 20;
/** RSA keys shorter than this are refused (RFC 7518 §3.3: 2048 bits or larger). */
const MIN_RSA_BITS = 2048;

/** Why one JWK cannot be a client's assertion key, or undefined when it can. */
async function keyProblem(jwk: unknown): Promise<string | undefined> {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'is not a JSON object';
  const key = jwk as Record<string, unknown>;
  const privateMember = PRIVATE_MEMBERS.find((m) => m in key);
  if (privateMember) return `holds private or secret key material ("${privateMember}"): register the public key only`;
  const kty = typeof key.kty === 'string' ? KEY_TYPES[key.kty] : undefined;
  if (!kty) return `has kty ${JSON.stringify(key.kty)}; accepted: RSA, EC (P-256), OKP (Ed25519)`;
  if (kty.crv !== undefined && key.crv !== kty.crv) return `has crv ${JSON.stringify(key.crv)}; ${key.kty} keys must use ${kty.crv}`;
  if (key.alg !== undefined && !kty.algorithms.includes(key.alg as string)) {
    return `has alg ${JSON.stringify(key.alg)}; a ${key.kty} key signs with ${kty.algorithms.join(' or ')}`;
  }
  if (key.use !== undefined && key.use !== 'sig') return `has use ${JSON.stringify(key.use)}; only "sig" keys verify assertions`;
  if (key.key_ops !== undefined && !(Array.isArray(key.key_ops) && key.key_ops.includes('verify'))) {
    return 'has key_ops without "verify"';
  }
  if (key.kid !== undefined && (typeof key.kid !== 'string' || key.kid.length === 0 || key.kid.length > 200)) {
    return 'has a kid that is not a string of 1-200 characters';
  }
  let imported: CryptoKey | Uint8Array;
  try {
    imported = await importJWK(key as JWK, (key.alg as string | undefined) ?? kty.importAs);
  } catch {
    return 'is not a valid public key';
  }
  if (key.kty === 'RSA') {
    const bits = imported instanceof Uint8Array ? 0 : ((imported.algorithm as { modulusLength?: number }).modulusLength ?? 0);
    if (bits < MIN_RSA_BITS) return `is an RSA key shorter than ${MIN_RSA_BITS} bits`;
  }
  return undefined;
}

function keysOf(value: unknown): unknown[] | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a JWKS is a JSON object with a "keys" array';
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) return 'a JWKS is a JSON object with a "keys" array';
  return keys;
}

/**
 * Checks a JWKS given at registration: 1-20 public signing keys of the accepted kinds, distinct kids.
 * Returns the set, or why it cannot be registered.
 */
export async function checkClientJwks(value: unknown): Promise<{ ok: true; jwks: JSONWebKeySet } | { ok: false; reason: string }> {
  const keys = keysOf(value);
  if (typeof keys === 'string') return { ok: false, reason: keys };
  if (keys.length === 0 || keys.length > MAX_CLIENT_KEYS) return { ok: false, reason: `a client JWKS holds 1-${MAX_CLIENT_KEYS} keys` };
  for (const [i, key] of keys.entries()) {
    const problem = await keyProblem(key);
    if (problem) return { ok: false, reason: `key ${i + 1} ${problem}` };
  }
  const kids = keys.map((k) => (k as JWK).kid).filter((kid) => kid !== undefined);
  if (new Set(kids).size !== kids.length) return { ok: false, reason: 'two keys have the same kid' };
  return { ok: true, jwks: { keys: keys as JWK[] } };
}

/**
 * The usable keys of a document fetched from a jwks_uri. Keys for other uses or of other kinds are
 * skipped (a set may also publish encryption keys), but a set holding private key material is refused
 * as a whole: the client published what it must keep secret.
 */
export async function usableFetchedKeys(value: unknown): Promise<{ ok: true; jwks: JSONWebKeySet } | { ok: false; reason: string }> {
  const keys = keysOf(value);
  if (typeof keys === 'string') return { ok: false, reason: keys };
  const usable: JWK[] = [];
  for (const key of keys.slice(0, 100)) {
    if (typeof key === 'object' && key !== null && PRIVATE_MEMBERS.some((m) => m in key)) {
      return { ok: false, reason: 'the document holds private or secret key material' };
    }
    if ((await keyProblem(key)) === undefined) usable.push(key as JWK);
  }
  return { ok: true, jwks: { keys: usable } };
}

/**
 * The set as jose verifies with it. An Ed25519 key signs one algorithm only, named `EdDSA` or, since
 * RFC 9864, `Ed25519`; its `alg` is dropped so that either name finds it (jose matches `alg` exactly).
 */
export function verificationKeys(jwks: JSONWebKeySet): JSONWebKeySet {
  return {
    keys: jwks.keys.map((key) => {
      if (key.kty !== 'OKP') return key;
      const { alg: _alg, ...anyName } = key;
      return anyName;
    }),
  };
}

/**
 * The registration rules for a client's keys: a private_key_jwt client registers exactly one of an
 * inline JWKS or a jwks_uri (RFC 7591 §2: "MUST NOT both be present"); no other client has keys.
 */
export async function registrationKeys(
  method: string,
  jwks: unknown,
  jwksUri: string | undefined,
): Promise<{ jwks: JSONWebKeySet | null; jwksUri: string | null }> {
  // RFC 8705 §2.2: a self_signed_tls_client_auth client registers its certificates' keys the same way.
  if (method !== 'private_key_jwt' && method !== 'self_signed_tls_client_auth') {
    if (jwks !== undefined || jwksUri !== undefined) {
      throw new RegistryError('a JWKS or jwks_uri is only for the private_key_jwt and self_signed_tls_client_auth auth methods', 'invalid');
    }
    return { jwks: null, jwksUri: null };
  }
  if ((jwks === undefined) === (jwksUri === undefined)) {
    throw new RegistryError(`a ${method} client needs exactly one of a JWKS (--jwks-file) or a jwks_uri (--jwks-uri)`, 'invalid');
  }
  if (jwksUri !== undefined) {
    const problem = checkJwksUriSyntax(jwksUri);
    if (problem) throw new RegistryError(`jwks_uri ${problem}`, 'invalid');
    return { jwks: null, jwksUri };
  }
  const checked = await checkClientJwks(jwks);
  if (!checked.ok) throw new RegistryError(`JWKS: ${checked.reason}`, 'invalid');
  return { jwks: checked.jwks, jwksUri: null };
}
