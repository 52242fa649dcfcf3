import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * PKCE (RFC 7636) for the authorization code grant. Latchkey accepts S256 only: `plain` would send
 * the verifier itself through the front channel (RFC 9700 §2.1.1, OAuth 2.1 §4.1.1).
 */
export const PKCE_METHODS = ['S256'] as const;

/** RFC 7636 §4.1: code-verifier = 43*128unreserved; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** An S256 challenge is BASE64URL(SHA256(verifier)) without padding: exactly 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export type PkceRequestCheck = { ok: true; challenge: string } | { ok: false; reason: string };

/**
 * The authorization request's `code_challenge` and `code_challenge_method`. RFC 9700 §2.1.1: a
 * missing challenge is refused (PKCE for every client); RFC 7636 §4.3 defaults a missing method to
 * `plain`, which Latchkey refuses, so the method must be given as S256.
 */
export function checkPkceRequest(challenge: string | undefined, method: string | undefined): PkceRequestCheck {
  if (challenge === undefined) return { ok: false, reason: 'code_challenge is required (PKCE)' };
  if (method !== 'S256') return { ok: false, reason: 'code_challenge_method must be S256' };
  if (!S256_CHALLENGE.test(challenge)) return { ok: false, reason: 'code_challenge is not a base64url SHA-256' };
  return { ok: true, challenge };
}

/**
 * RFC 7636 §4.6: whether `verifier` answers `challenge`: BASE64URL(SHA256(ASCII(code_verifier)))
 * equals the stored challenge, compared in constant time. A malformed verifier never matches.
 */
export function verifyPkce(challenge: string, verifier: string | undefined): boolean {
  if (verifier === undefined || !VERIFIER.test(verifier)) return false;
  const computed = createHash('sha256').update(verifier, 'ascii').digest();
  const expected = Buffer.from(challenge, 'base64url');
  return expected.length === computed.length && timingSafeEqual(computed, expected);
}
