import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encrypts a value under a key derived from a high-entropy secret the caller holds (a refresh token):
 * what is stored can be read back only by whoever presents that secret again, so a response kept for
 * the refresh grace window is never at rest in clear. AES-256-GCM; the key from HKDF (RFC 5869).
 */
export function seal(secret: string, purpose: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(secret, purpose), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/** The plaintext, or undefined when the secret or purpose is not the one it was sealed with. */
export function open(secret: string, purpose: string, sealed: string): string | undefined {
  const [version, ivText, bodyText] = sealed.split('.');
  if (version !== 'v1' || !ivText || !bodyText) return undefined;
  const body = Buffer.from(bodyText, 'base64url');
  if (body.length < 16) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', deriveKey(secret, purpose), Buffer.from(ivText, 'base64url'));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'latchkey', `latchkey/${purpose}/v1`, 32));
}
