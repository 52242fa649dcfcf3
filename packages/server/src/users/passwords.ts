import { hash, verify } from '@node-rs/argon2';

/** Longest password accepted: argon2 takes any length, but an unbounded input is a denial of service. */
export const MAX_PASSWORD_LENGTH = 1024;
/** NIST SP 800-63B §5.1.1.2: memorized secrets SHALL be at least 8 characters. */
export const MIN_PASSWORD_LENGTH = 8;

/**
 * argon2id with the library's defaults (m=19456 KiB, t=2, p=1: OWASP's recommended minimum), as a PHC
 * string that carries its own salt and parameters. `algorithm: 2` is Argon2id (a const enum upstream).
 */
export function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: 2 });
}

/** Constant-time check of a password against its PHC hash; false for a malformed hash. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}
