import { randomInt } from 'node:crypto';
import { sha256 } from '../lib/random.ts';

/**
 * RFC 8628 §6.1: user codes from an alphabet without look-alikes (no vowels, so no words; no 0/O,
 * 1/I/L confusion): 19 consonants, 8 characters = 34 bits, shown as XXXX-XXXX. Brute force on the
 * verification page is rate limited (device/verification-limits.ts); codes live 10 minutes.
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKMNPQRSTVWXZ';
const LENGTH = 8;

export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What the user typed, in canonical form: upper case, separators and spaces dropped (RFC 8628 §6.1:
 * "the user code SHOULD be case insensitive" and punctuation ignored), or undefined when it cannot
 * be a code.
 */
export function normalizeUserCode(input: string): string | undefined {
  const compact = input.toUpperCase().replace(/[\s-]/g, '');
  if (compact.length !== LENGTH) return undefined;
  for (const c of compact) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return compact;
}

/** How a user code is stored and looked up. */
export function userCodeHash(normalized: string): string {
  return sha256(`user-code:${normalized}`);
}

export function formatUserCode(normalized: string): string {
  return `${normalized.slice(0, 4)}-${normalized.slice(4)}`;
}
