import { createHash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

/** `bytes` random bytes as base64url: 16 bytes = 128 bits (RFC 6749 §10.10 asks for at least that). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * A random id an operator types (resources, registration tokens): base64url that never begins with '-',
 * so no shell tool or option parser takes it for an option.
 */
export function randomIdentifier(bytes = 12): string {
  for (;;) {
    const id = randomToken(bytes);
    if (!id.startsWith('-')) return id;
  }
}

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * 16 bytes from the CSPRNG as base64url, drawn from a buffer filled 4 KiB at a time: one system call
 * per 256 identifiers on the token endpoint's path (the same trick node's randomUUID uses). Each byte
 * is handed out once.
 */
export function randomId128(): string {
  if (poolOffset + 16 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const id = pool.toString('base64url', poolOffset, poolOffset + 16);
  poolOffset += 16;
  return id;
}

/** SHA-256 as base64url: how high-entropy secrets (client secrets, codes, refresh tokens) are stored. */
export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/** Whether two strings are equal, compared in constant time (for thumbprints and other values an attacker may probe). */
export function equalInConstantTime(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Compares a presented secret with a stored SHA-256 hash in constant time. */
export function matchesHash(presented: string, storedHash: string): boolean {
  const a = Buffer.from(sha256(presented), 'base64url');
  const b = Buffer.from(storedHash, 'base64url');
  return a.length === b.length && timingSafeEqual(a, b);
}
