import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HMAC-SHA256 of `value` under the server's MAC key (context.ts `macKey`), with `label` in front so
 * no two uses can stand in for each other; base64url, truncated to `bytes` (at least 16: 128 bits).
 */
export function mac(key: Buffer, label: string, value: string, bytes = 32): string {
  return createHmac('sha256', key).update(`${label}\u0000${value}`).digest().subarray(0, bytes).toString('base64url');
}

/** Constant-time check of a presented MAC. */
export function macMatches(key: Buffer, label: string, value: string, presented: string, bytes = 32): boolean {
  const expected = Buffer.from(mac(key, label, value, bytes));
  const actual = Buffer.from(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
