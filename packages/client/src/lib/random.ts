import { createHash, randomBytes } from 'node:crypto';

/** A random identifier (a BFF session id): 32 bytes (256 bits), base64url (43 characters). */
export function randomValue(): string {
  return randomBytes(32).toString('base64url');
}

/** A base64url SHA-256 of a secret, to key maps without keeping the secret itself as the key. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}
