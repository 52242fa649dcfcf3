import { readFileSync } from 'node:fs';
import { RegistryError } from '../errors.ts';
import { checkPassword } from './user-registry.ts';

/**
 * The rules for a password a user chooses (sign-up, reset, change on the account page), on top of the
 * length rules every password follows (user-registry.ts): NIST SP 800-63B §5.1.1.2, "compare the
 * prospective secrets against a list that contains values known to be commonly-used, expected, or
 * compromised": passwords from breach corpora (data/common-passwords.txt, shipped with the package: no
 * online service sees the password), and the user's own username or address. Operators setting a
 * password in the CLI are held to the length rules only.
 */

let common: ReadonlySet<string> | undefined;

/** The list, read once (about 18,000 passwords of 8 characters or more, lower-case). */
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(readFileSync(new URL('../../data/common-passwords.txt', import.meta.url), 'utf8').split('\n').filter((line) => line !== ''));
  return common;
}

/** Whether the password is on the list of breached passwords (compared without regard to case). */
export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(password.toLowerCase());
}

/** Throws RegistryError('invalid') with the reason in words when the user may not choose this password. */
export function checkChosenPassword(password: string, user: { username?: string; email?: string | null } = {}): void {
  checkPassword(password);
  if (isCommonPassword(password)) throw new RegistryError('it is on a list of passwords known from breaches; choose another', 'invalid');
  const lower = password.toLowerCase();
  const own = [user.username, user.email, user.email?.split('@')[0]].filter((v): v is string => typeof v === 'string' && v !== '');
  if (own.some((v) => v.toLowerCase() === lower)) throw new RegistryError('it must not be your username or email address', 'invalid');
}
