import { nowSeconds } from '../lib/clock.ts';
import { randomUUID } from 'node:crypto';
import { RegistryError } from '../errors.ts';
import { isUniqueViolation } from '../storage/database.ts';
import type { Storage } from '../storage/storage.ts';
import type { User } from '../storage/user-store.ts';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.ts';
import { endPasswordOnlySessions } from './sessions.ts';
import { endSessionsOfUser } from '../logout/end-sessions.ts';
import { totpThrottleKey } from './totp.ts';

/** Usernames: 1-64 of a-z 0-9 . _ - @ (so an email address works as a username), compared lower-case. */
const USERNAME = /^[a-z0-9._@-]{1,64}$/;
/** A deliberately loose check: one @ with something on each side, no spaces. */
const EMAIL = /^[^\s@]+@[^\s@]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface CreateUserInput {
  username: string;
  email?: string;
  name?: string;
  password: string;
  /** The address is known to be the user's (an invitation mailed to it). */
  emailVerified?: boolean;
  /** Signed up: no sign-in until the address is confirmed. */
  emailConfirmationRequired?: boolean;
}

/** A user's second factors as shown to admins; `totp` null: none set up. */
export interface UserFactors {
  username: string;
  /** confirmedAt null: being set up (a code was never given), not yet asked for at sign-in. */
  totp: { createdAt: number; confirmedAt: number | null } | null;
  /** Recovery codes left of those issued; null: none issued. */
  recoveryCodes: { remaining: number; total: number; lastUsedAt: number | null } | null;
  /** The user's passkeys: name, kind, dates; never a key. */
  passkeys: { name: string; synced: boolean; createdAt: number; lastUsedAt: number | null; counterRegressedAt: number | null }[];
}

/** A user as shown to admins: never the password hash. */
export type UserView = Omit<User, 'passwordHash'>;

/** The rules of user accounts, over the storage. */
export class UserRegistry {
  private readonly storage: Storage;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  async create(input: CreateUserInput): Promise<UserView> {
    const username = normalizeUsername(input.username);
    const email = input.email?.trim() || null;
    if (email !== null && (!EMAIL.test(email) || email.length > 320 || CONTROL.test(email))) throw new RegistryError('the email address is not valid', 'invalid');
    const name = input.name?.trim() || null;
    if (name !== null && name.length > 200) throw new RegistryError('the name is longer than 200 characters', 'invalid');
    if (name !== null && CONTROL.test(name)) throw new RegistryError('the name has control characters', 'invalid');
    checkPassword(input.password);
    const now = nowSeconds();
    const user: User = {
      // The user's `sub`: a UUID, a form client ids may never take (RFC 9700 §4.15).
      id: randomUUID(),
      username,
      email,
      name,
      passwordHash: await hashPassword(input.password),
      disabledAt: null,
      createdAt: now,
      passwordChangedAt: now,
      emailVerified: input.emailVerified === true,
      emailConfirmationRequired: input.emailConfirmationRequired === true,
    };
    try {
      await this.storage.users.create(user);
    } catch (err) {
      if (isUniqueViolation(err)) throw new RegistryError(`user ${username} exists already`, 'conflict');
      throw err;
    }
    return view(user);
  }

  async list(): Promise<UserView[]> {
    return (await this.storage.users.list()).map(view);
  }

  async get(username: string): Promise<UserView> {
    const user = await this.storage.users.findByUsername(normalizeUsername(username));
    if (!user) throw new RegistryError(`no user ${username}`, 'not_found');
    return view(user);
  }

  /** A disabled user can neither log in nor refresh; their SSO sessions end at once. */
  async disable(username: string): Promise<void> {
    if (!(await this.storage.users.setDisabledAt(normalizeUsername(username), nowSeconds()))) {
      throw new RegistryError(`no user ${username}`, 'not_found');
    }
    await this.signOutEverywhere(username);
  }

  /**
   * Ends every session of the user and revokes every grant: refresh tokens stop working and access
   * tokens introspect as inactive (a disabled user, a lost device, an admin's `users revoke`).
   */
  async signOutEverywhere(username: string): Promise<{ sessions: number; grants: number }> {
    const user = await this.get(username);
    // Back-Channel Logout: each session's clients are told (logout/end-sessions.ts; the server delivers).
    const sessions = await endSessionsOfUser(this.storage, user.id, nowSeconds());
    const grants = await this.storage.grants.revokeAllForUser(user.id, nowSeconds());
    return { sessions, grants };
  }

  async enable(username: string): Promise<void> {
    if (!(await this.storage.users.setDisabledAt(normalizeUsername(username), null))) {
      throw new RegistryError(`no user ${username}`, 'not_found');
    }
  }

  /** The user's second factors (an authenticator app, recovery codes, passkeys), as shown to admins: never a secret. */
  async factors(username: string): Promise<UserFactors> {
    const user = await this.get(username);
    const totp = await this.storage.totp.find(user.id);
    const recovery = await this.storage.recoveryCodes.status(user.id);
    return {
      username: user.username,
      totp: totp === undefined ? null : { confirmedAt: totp.confirmedAt, createdAt: totp.createdAt },
      recoveryCodes: recovery.total === 0 ? null : recovery,
      passkeys: (await this.storage.passkeys.listForUser(user.id)).map((p) => ({
        name: p.name,
        synced: p.deviceType === 'multiDevice',
        createdAt: p.createdAt,
        lastUsedAt: p.lastUsedAt,
        counterRegressedAt: p.counterRegressedAt,
      })),
    };
  }

  /**
   * Removes every second factor of the user (a lost phone): the next sign-in is the password alone,
   * and the user sets a new authenticator up on the account page. The user's sessions end, so no
   * browser keeps a sign-in made with the removed factor.
   */
  async resetFactors(username: string): Promise<{ removed: string[]; sessions: number }> {
    const user = await this.get(username);
    const removed = (await this.storage.totp.delete(user.id)) ? ['totp'] : [];
    if ((await this.storage.recoveryCodes.deleteForUser(user.id)) > 0) removed.push('recovery_codes');
    // A locked factor's count of wrong codes goes too (users/totp.ts).
    await this.storage.loginThrottles.reset(totpThrottleKey(user.id));
    const passkeys = await this.storage.passkeys.deleteForUser(user.id);
    if (passkeys > 0) removed.push(`${passkeys} passkey(s)`);
    const sessions = await this.storage.sessions.deleteForUser(user.id);
    return { removed, sessions };
  }

  /**
   * Requires (or stops requiring) two factors of the user: without an authenticator app, their next
   * sign-in sets one up (users/second-factor-policy.ts). Sessions signed in with a password alone end.
   */
  async requireSecondFactor(username: string, required: boolean): Promise<{ sessions: number }> {
    if (!(await this.storage.users.setSecondFactorRequired(normalizeUsername(username), required))) {
      throw new RegistryError(`no user ${username}`, 'not_found');
    }
    if (!required) return { sessions: 0 };
    const user = await this.get(username);
    return { sessions: await endPasswordOnlySessions(this.storage, user.id) };
  }

  /**
   * Changes the user's email address (no longer verified unless it stays the same) and name; a value
   * left out stays, null clears it.
   */
  async update(username: string, input: { email?: string | null; name?: string | null }): Promise<UserView> {
    const user = await this.get(username);
    if (input.email !== undefined) {
      const email = input.email?.trim() || null;
      if (email !== null && (!EMAIL.test(email) || email.length > 320 || CONTROL.test(email))) throw new RegistryError('the email address is not valid', 'invalid');
      if (email !== user.email) await this.storage.users.setEmail(user.id, email, false);
    }
    if (input.name !== undefined) {
      const name = input.name?.trim() || null;
      if (name !== null && name.length > 200) throw new RegistryError('the name is longer than 200 characters', 'invalid');
      if (name !== null && CONTROL.test(name)) throw new RegistryError('the name has control characters', 'invalid');
      await this.storage.users.setName(user.id, name);
    }
    return this.get(username);
  }

  /** Whether `password` is the user's password (configuration as code sets it only when it differs). */
  async passwordMatches(username: string, password: string): Promise<boolean> {
    const user = await this.storage.users.findByUsername(normalizeUsername(username));
    if (!user) throw new RegistryError(`no user ${username}`, 'not_found');
    return verifyPassword(user.passwordHash, password);
  }

  async setPassword(username: string, password: string): Promise<void> {
    checkPassword(password);
    const passwordHash = await hashPassword(password);
    if (!(await this.storage.users.setPasswordHash(normalizeUsername(username), passwordHash, nowSeconds()))) {
      throw new RegistryError(`no user ${username}`, 'not_found');
    }
    // A new password ends every session opened with the old one, with their back-channel logouts.
    await endSessionsOfUser(this.storage, (await this.get(username)).id, nowSeconds());
  }
}

function normalizeUsername(username: string): string {
  const normalized = username.trim().toLowerCase();
  if (!USERNAME.test(normalized)) {
    throw new RegistryError('a username is 1-64 of a-z 0-9 . _ @ - (compared without regard to case)', 'invalid');
  }
  return normalized;
}

export function checkPassword(password: string): void {
  // NIST SP 800-63B §5.1.1.2: at least 8 characters; all printing characters and spaces allowed.
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new RegistryError(`a password needs at least ${MIN_PASSWORD_LENGTH} characters`, 'invalid');
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new RegistryError(`a password has at most ${MAX_PASSWORD_LENGTH} characters`, 'invalid');
  }
}

function view(user: User): UserView {
  const { passwordHash: _hidden, ...rest } = user;
  return rest;
}

