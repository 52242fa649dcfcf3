import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { ConfigError } from '../errors.ts';

/**
 * Secrets kept in the database (private signing keys, users' TOTP secrets) are encrypted at rest with
 * AES-256-GCM under a key-encryption key derived from `LATCHKEY_SECRET` with scrypt. What the value
 * belongs to (a key id, `totp:<user id>`) is bound as additional data, so a ciphertext cannot be moved
 * to another row.
 */
export class KeyEncryption {
  private readonly kek: Buffer;

  constructor(secret: string) {
    if (secret.length < 16) throw new ConfigError('LATCHKEY_SECRET must be at least 16 characters');
    // scrypt because the secret may be a passphrase; a fixed salt is fine as it only separates uses.
    this.kek = scryptSync(secret, 'latchkey/signing-key-encryption/v1', 32, { N: 1 << 14, r: 8, p: 1 });
  }

  encrypt(plaintext: string, kid: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.kek, iv);
    cipher.setAAD(Buffer.from(kid, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** Throws ConfigError when the secret is not the one the value was encrypted with. */
  decrypt(sealed: string, kid: string, what = `signing key ${kid}`): string {
    const [version, ivText, bodyText] = sealed.split('.');
    if (version !== 'v1' || !ivText || !bodyText) throw new ConfigError(`${what}: unknown encryption format`);
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.kek, iv);
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - 16));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      throw new ConfigError(
        `${what} cannot be decrypted: LATCHKEY_SECRET is not the secret it was encrypted with`,
      );
    }
  }
}
