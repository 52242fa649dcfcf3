import { readFileSync } from 'node:fs';
import { RegistryError } from '../errors.ts';
import type { MessageKey } from '../i18n/catalogs.ts';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.ts';
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

/** Why a user may not choose a password. */
export type PasswordProblem = 'too_short' | 'too_long' | 'common' | 'own';

/** The English words of each problem, as RegistryError's message (the CLI and logs show them). */
const PROBLEM_WORDS: Record<PasswordProblem, string> = {
  too_short: `a password needs at least ${MIN_PASSWORD_LENGTH} characters`,
  too_long: `a password has at most ${MAX_PASSWORD_LENGTH} characters`,
  common: 'it is on a list of passwords known from breaches; choose another',
  own: 'it must not be your username or email address',
};

/**
 * The problem in the user's language, for a page (`The password is not accepted: {reason}.`): the
 * message key and its values.
 */
export function passwordProblemMessage(problem: PasswordProblem): { key: MessageKey; values: Record<string, number> } {
  switch (problem) {
    case 'too_short':
      return { key: 'signup.password.tooShort', values: { min: MIN_PASSWORD_LENGTH } };
    case 'too_long':
      return { key: 'signup.password.tooLong', values: { max: MAX_PASSWORD_LENGTH } };
    case 'common':
      return { key: 'signup.password.common', values: {} };
    case 'own':
      return { key: 'signup.password.own', values: {} };
  }
}

/** A rule the user's chosen password breaks, else undefined. */
export function chosenPasswordProblem(password: string, user: { username?: string; email?: string | null } = {}): PasswordProblem | undefined {
  // The length rules of every password (user-registry.ts checkPassword), NIST SP 800-63B §5.1.1.2.
  if ([...password].length < MIN_PASSWORD_LENGTH) return 'too_short';
  if (password.length > MAX_PASSWORD_LENGTH) return 'too_long';
  if (isCommonPassword(password)) return 'common';
  const lower = password.toLowerCase();
  const own = [user.username, user.email, user.email?.split('@')[0]].filter((v): v is string => typeof v === 'string' && v !== '');
  if (own.some((v) => v.toLowerCase() === lower)) return 'own';
  return undefined;
}

/**
 * Throws RegistryError('invalid') with the reason in (English) words when the user may not choose this
 * password (the CLI and the registry); pages use `chosenPasswordProblem` and word the problem themselves.
 */
export function checkChosenPassword(password: string, user: { username?: string; email?: string | null } = {}): void {
  const problem = chosenPasswordProblem(password, user);
  if (problem) throw new RegistryError(PROBLEM_WORDS[problem], 'invalid');
  checkPassword(password);
}
