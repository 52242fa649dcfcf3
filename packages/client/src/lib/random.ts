import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random value for `state`, `nonce` and PKCE verifiers: 32 bytes (256 bits), base64url (43 characters). */
export function randomValue(): string {
  return randomBytes(32).toString('base64url');
}

/** RFC 7636 §4.2: `code_challenge = BASE64URL(SHA256(ASCII(code_verifier)))`. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** A base64url SHA-256 of a secret, to key maps without keeping the secret itself as the key. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/** Compares two strings in time that does not depend on where they differ. */
export function sameString(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the comparison does not leak the expected length either.
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}
