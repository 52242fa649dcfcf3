// DPoP proofs (RFC 9449): the one implementation of the proof checks, used by this library's
// middleware, by the gateway and by the Latchkey server itself (token endpoint, userinfo, PAR).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EmbeddedJWK, calculateJwkThumbprint, errors as joseErrors, jwtVerify, type JWK } from 'jose';

/** RFC 9449 §4.2: the `typ` header of a proof. */
export const DPOP_PROOF_TYP = 'dpop+jwt';

/**
 * The asymmetric algorithms accepted for proofs by default (RFC 9449 §4.3 "a supported asymmetric
 * algorithm"; never `none` or a MAC). The list is what `dpop_signing_alg_values_supported` announces.
 */
export const DPOP_DEFAULT_ALGORITHMS: readonly string[] = Object.freeze(['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA']);

/** Proofs longer than this are not parsed (a proof with an RSA-4096 key is well under 2 KiB). */
export const DPOP_MAX_PROOF_LENGTH = 8 * 1024;

/** `jti` values longer than this are refused: they are kept in a replay store. */
const MAX_JTI_LENGTH = 256;

/**
 * Why a proof was refused. `use_dpop_nonce` (RFC 9449 §8) asks the client to retry with the nonce
 * the server sends in `DPoP-Nonce`; everything else is `invalid_dpop_proof` (§5, §7.1).
 */
export class DpopProofError extends Error {
  readonly error: 'invalid_dpop_proof' | 'use_dpop_nonce';
  /** A fixed text for `error_description`; never contains the proof. */
  readonly description: string;

  constructor(error: 'invalid_dpop_proof' | 'use_dpop_nonce', description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.name = 'DpopProofError';
    this.error = error;
    this.description = description;
  }
}

/**
 * Records the first use of a proof's `jti` until `expiresAt` (seconds); false when it was used before.
 * The Latchkey server keeps these in its database (shared by every node); the library's default is
 * per process (createMemoryReplayCache).
 */
export type DpopReplayCheck = (key: string, expiresAt: number) => Promise<boolean> | boolean;

/** Server-provided nonces (RFC 9449 §8 and §9): the current value to send, and which values are good. */
export interface DpopNonceSource {
  current(): string;
  isValid(nonce: string): boolean;
}

export interface DpopProofCheckOptions {
  /** The `DPoP` header value(s) as received (`undefined` when absent; an array when repeated). */
  proof: string | readonly string[] | undefined;
  /** The request method. */
  method: string;
  /** The request's URL as the client addressed it (scheme, host, path; query and fragment ignored). */
  url: string | URL;
  /** The access token presented with the proof (resource requests, userinfo): `ath` must match it. */
  accessToken?: string;
  /**
   * The `cnf.jkt` of that access token (resource requests): the proof's key must have this RFC 7638
   * thumbprint. Checked before the `jti` is recorded, so proofs signed with another key fill no
   * replay store.
   */
  jkt?: string;
  /** Accepted `alg` values (default DPOP_DEFAULT_ALGORITHMS). */
  algorithms?: readonly string[];
  /** How long after its `iat` a proof is accepted, in seconds (default 300). */
  maxAgeSeconds?: number;
  /** Allowed clock difference for `iat`, in seconds (default 5). */
  clockToleranceSeconds?: number;
  /** Single use of `jti` (RFC 9449 §11.1). */
  replay: DpopReplayCheck;
  /** When set, proofs must carry a nonce it accepts (RFC 9449 §8). */
  nonce?: DpopNonceSource;
  /** The current time in seconds (tests). */
  now?: number;
}

/** A proof that passed every check of RFC 9449 §4.3. */
export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key, base64url: the `cnf.jkt` a token is bound to. */
  jkt: string;
  /** The proof's public key. */
  jwk: JWK;
  jti: string;
  iat: number;
}

const DEFAULT_MAX_AGE_SECONDS = 300;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 5;

/** base64url SHA-256 of the ASCII access token: the `ath` claim (RFC 9449 §4.2). */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/**
 * RFC 9449 §4.3 "Checking DPoP Proofs": exactly one well-formed JWT in one `DPoP` header, `typ`
 * dpop+jwt, an accepted asymmetric `alg`, a public `jwk` that verifies the signature, `jti`, `htm`
 * and `htu` of this request, `iat` recent, `ath` of the presented token, the nonce when one is
 * required, and `jti` never seen before. Throws DpopProofError.
 */
export async function checkDpopProof(options: DpopProofCheckOptions): Promise<DpopProof> {
  const proof = singleProof(options.proof);
  const algorithms = options.algorithms ?? DPOP_DEFAULT_ALGORITHMS;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const maxAge = options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;

  let payload: Record<string, unknown>;
  let jwk: JWK;
  try {
    // RFC 9449 §4.3 items 3-6: "the typ JOSE Header Parameter has the value dpop+jwt", "the alg JOSE
    // Header Parameter indicates a registered asymmetric digital signature algorithm ... is not none
    // ... and is supported", "the JWT signature verifies with the public key contained in the jwk
    // JOSE Header Parameter", "the jwk JOSE Header Parameter does not contain a private key"
    // (jose's EmbeddedJWK refuses a private or symmetric key).
    const verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: DPOP_PROOF_TYP,
      algorithms: [...algorithms],
      currentDate: new Date(now * 1000),
      clockTolerance: tolerance,
      // RFC 9449 §4.3 item 11: "the creation time of the JWT, as determined by either the iat claim
      // or a server managed timestamp via the nonce claim, is within an acceptable window".
      maxTokenAge: maxAge,
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
    });
    payload = verified.payload as Record<string, unknown>;
    jwk = verified.protectedHeader.jwk as JWK;
  } catch (err) {
    throw new DpopProofError('invalid_dpop_proof', proofFailure(err), { cause: err });
  }

  const { jti, htm, htu, iat, ath, nonce } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof has no usable jti');
  }
  // RFC 9449 §4.3 item 8: "the htm claim matches the HTTP method of the current request".
  if (htm !== options.method.toUpperCase()) throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is for another HTTP method');
  // RFC 9449 §4.3 item 9: "the htu claim matches the HTTP URI value for the HTTP request in which
  // the JWT was received, ignoring any query and fragment parts" (compared after §6.2.2 and §6.2.3
  // normalisation of RFC 3986).
  if (typeof htu !== 'string' || !sameTarget(htu, options.url)) {
    throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is for another URL');
  }
  // RFC 9449 §4.3 item 12: "if presented to a protected resource in conjunction with an access
  // token, ... the value of the ath claim equals the hash of that access token".
  if (options.accessToken !== undefined) {
    if (typeof ath !== 'string' || !equalStrings(ath, accessTokenHash(options.accessToken))) {
      throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is not for the access token presented');
    }
  }
  // RFC 9449 §4.3 item 10: "if the server provided a nonce value to the client, the nonce claim
  // matches the server-provided nonce value". §8: a missing or stale nonce is use_dpop_nonce.
  if (options.nonce) {
    if (typeof nonce !== 'string' || !options.nonce.isValid(nonce)) {
      throw new DpopProofError('use_dpop_nonce', 'the authorization server requires a DPoP nonce in the proof');
    }
  }

  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  // RFC 9449 §4.3 item 12: "... and confirm that the public key to which the access token is bound
  // matches the public key from the DPoP proof".
  if (options.jkt !== undefined && !equalStrings(jkt, options.jkt)) {
    throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is not signed with the key the access token is bound to');
  }
  // RFC 9449 §11.1: a proof is used once. The key is the thumbprint and the jti, hashed so its
  // length is bounded; it is kept for as long as the proof could be accepted.
  const replayKey = createHash('sha256').update(`${jkt}\0${jti}`).digest('base64url');
  const first = await options.replay(replayKey, (iat as number) + maxAge + tolerance);
  if (!first) throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof was used before');
  return { jkt, jwk, jti, iat: iat as number };
}

/** RFC 9449 §4.3 items 1-2: "There is not more than one DPoP HTTP request header field", a JWT. */
function singleProof(proof: string | readonly string[] | undefined): string {
  if (proof === undefined) throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is missing');
  if (typeof proof !== 'string') {
    if (proof.length === 0) return singleProof(undefined);
    if (proof.length !== 1) throw new DpopProofError('invalid_dpop_proof', 'more than one DPoP header was sent');
    return singleProof(proof[0]);
  }
  if (proof.includes(',')) throw new DpopProofError('invalid_dpop_proof', 'more than one DPoP header was sent');
  if (proof.length === 0 || proof.length > DPOP_MAX_PROOF_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) {
    throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is not a well-formed JWT');
  }
  return proof;
}

/** A fixed description for each way jose refuses a proof (never its message, which may echo input). */
function proofFailure(err: unknown): string {
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the DPoP proof uses an algorithm that is not accepted';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the DPoP proof signature is invalid';
  if (err instanceof joseErrors.JWTExpired) return 'the DPoP proof has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iat') return 'the DPoP proof was not created within the accepted time window';
    if (err.claim === 'typ') return 'the DPoP proof does not have typ dpop+jwt';
    return 'the DPoP proof lacks a required claim';
  }
  return 'the DPoP proof is malformed or its key is not an acceptable public key';
}

/** RFC 3986 §6.2.2-6.2.3 comparison of scheme, authority and path (query and fragment dropped). */
function sameTarget(htu: string, requestUrl: string | URL): boolean {
  const a = normalisedTarget(htu);
  const b = normalisedTarget(requestUrl);
  return a !== undefined && a === b;
}

function normalisedTarget(value: string | URL): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  // WHATWG URL parsing lowercases the scheme and host and drops a default port; percent-encoding of
  // unreserved characters is decoded so that `%7E` and `~` compare equal (RFC 3986 §6.2.2.2).
  const path = url.pathname.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : escape.toUpperCase();
  });
  return `${url.protocol}//${url.host}${path}`;
}

function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Stateless server nonces (RFC 9449 §8, §9): a nonce is a time step and its HMAC under a secret the
 * nodes share, so any node accepts what another issued, with nothing stored. A nonce is good during
 * its step and the next one (one to two periods).
 */
export function createDpopNonces(secret: Uint8Array | string, periodSeconds = 60, clock: () => number = () => Date.now() / 1000): DpopNonceSource {
  const key = typeof secret === 'string' ? Buffer.from(secret) : Buffer.from(secret);
  if (key.length < 16) throw new Error('the DPoP nonce secret must be at least 16 bytes');
  const mac = (step: number) => createHmac('sha256', key).update(`dpop-nonce:${step}`).digest().subarray(0, 16).toString('base64url');
  const stepNow = () => Math.floor(clock() / periodSeconds);
  return {
    current: () => {
      const step = stepNow();
      return `${step.toString(36)}.${mac(step)}`;
    },
    isValid: (nonce) => {
      const match = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/.exec(nonce);
      if (!match) return false;
      const step = parseInt(match[1]!, 36);
      const current = stepNow();
      if (step !== current && step !== current - 1) return false;
      return equalStrings(match[2]!, mac(step));
    },
  };
}

/**
 * A per-process replay cache for proofs (RFC 9449 §11.1), bounded: when full, the entries that
 * expire first are dropped. Several processes behind a load balancer need a shared store instead
 * (pass your own DpopReplayCheck).
 */
export function createMemoryReplayCache(maxEntries = 100_000, clock: () => number = () => Date.now() / 1000): DpopReplayCheck {
  const seen = new Map<string, number>();
  return (key, expiresAt) => {
    const now = clock();
    const previous = seen.get(key);
    if (previous !== undefined && previous > now) return false;
    if (seen.size >= maxEntries) {
      for (const [k, exp] of seen) if (exp <= now) seen.delete(k);
      // Still full of live entries: drop the oldest insertions (Map keeps insertion order).
      for (const k of seen.keys()) {
        if (seen.size < maxEntries) break;
        seen.delete(k);
      }
    }
    seen.set(key, expiresAt);
    return true;
  };
}

/** A random secret for createDpopNonces when none is configured (one process only). */
export function randomNonceSecret(): Buffer {
  return randomBytes(32);
}
