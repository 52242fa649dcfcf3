import { createHash } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, type JWTPayload } from 'jose';

/** A 256-bit key: 32 bytes, or their base64 / base64url encoding. */
export type CookieKey = Uint8Array | string;

/**
 * Cookie values encrypted and authenticated with AES-256-GCM as JWE (RFC 7516, `dir` + `A256GCM`,
 * through jose). The protected header's `typ` names the cookie's purpose and is authenticated, so a
 * cookie of one kind cannot be replayed as another; `exp` bounds its life whatever the browser keeps.
 * The first key seals; every key opens (to rotate keys without logging everybody out).
 */
export class CookieSealer {
  private readonly keys: { kid: string; key: Uint8Array }[];

  constructor(keys: readonly CookieKey[]) {
    if (keys.length === 0) throw new TypeError('cookieKey: at least one key is required');
    this.keys = keys.map((k) => {
      const key = toKey(k);
      return { kid: createHash('sha256').update(key).digest('base64url').slice(0, 8), key };
    });
  }

  seal(purpose: string, payload: JWTPayload, maxAgeSeconds: number): Promise<string> {
    const { kid, key } = this.keys[0]!;
    const now = Math.floor(Date.now() / 1000);
    return new EncryptJWT(payload)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: purpose, kid })
      .setIssuedAt(now)
      .setExpirationTime(now + maxAgeSeconds)
      .encrypt(key);
  }

  /** The payload, or undefined when the value is not a live cookie of this purpose sealed with one of the keys. */
  async open(purpose: string, value: string): Promise<JWTPayload | undefined> {
    for (const { key } of this.keys) {
      try {
        const { payload } = await jwtDecrypt(value, key, {
          typ: purpose,
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
        });
        return payload;
      } catch {
        // Another key, a tampered or expired value: try the next key, then give up.
      }
    }
    return undefined;
  }
}

function toKey(input: CookieKey): Uint8Array {
  const key = typeof input === 'string' ? Buffer.from(input, 'base64') : input;
  if (key.length !== 32) {
    throw new TypeError(`cookieKey must be 32 bytes (256 bits), got ${key.length}; generate one with: node -p "crypto.randomBytes(32).toString('base64url')"`);
  }
  return new Uint8Array(key);
}
