import type { Kysely } from 'kysely';
import type { Database, UserRow } from './schema.ts';
import { toInt, toIntOrNull } from './values.ts';

export interface User {
  /** The `sub` of the user's tokens. */
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  passwordHash: string;
  disabledAt: number | null;
  createdAt: number;
  passwordChangedAt: number;
  /** The user must sign in with two factors (users/second-factor-policy.ts). */
  secondFactorRequired?: boolean;
  /** The user proved they receive mail at `email` (OIDC Core §5.1 email_verified). */
  emailVerified?: boolean;
  /** Signed up and not yet confirmed the address: cannot sign in (users/signup.ts). */
  emailConfirmationRequired?: boolean;
}

/** Users: people who log in at the authorization server. */
export class UserStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async create(user: User): Promise<void> {
    await this.db
      .insertInto('users')
      .values({
        id: user.id,
        username: user.username,
        email: user.email,
        name: user.name,
        password_hash: user.passwordHash,
        disabled_at: user.disabledAt,
        created_at: user.createdAt,
        password_changed_at: user.passwordChangedAt,
        second_factor_required: user.secondFactorRequired ? 1 : 0,
        email_verified: user.emailVerified ? 1 : 0,
        email_confirmation_required: user.emailConfirmationRequired ? 1 : 0,
      })
      .execute();
  }

  async findByUsername(username: string): Promise<User | undefined> {
    if (username.includes('\u0000')) return undefined;
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row && toUser(row);
  }

  async findById(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(toUser);
  }

  /** Sets or clears the disabled time; false when there is no such user. */
  async setDisabledAt(username: string, disabledAt: number | null): Promise<boolean> {
    const result = await this.db.updateTable('users').set({ disabled_at: disabledAt }).where('username', '=', username).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Sets whether the user must sign in with two factors; false when there is no such user. */
  async setSecondFactorRequired(username: string, required: boolean): Promise<boolean> {
    const result = await this.db.updateTable('users').set({ second_factor_required: required ? 1 : 0 }).where('username', '=', username).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** The users whose address is `email` (compared without regard to case); addresses need not be unique. */
  async findByEmail(email: string): Promise<User[]> {
    if (email.includes('\u0000')) return [];
    const rows = await this.db.selectFrom('users').selectAll().where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase())).limit(20).execute();
    return rows.map(toUser);
  }

  /** Sets the user's name; false when there is no such user. */
  async setName(id: string, name: string | null): Promise<boolean> {
    const result = await this.db.updateTable('users').set({ name }).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Sets the user's address and whether it is verified; false when there is no such user. */
  async setEmail(id: string, email: string | null, verified: boolean): Promise<boolean> {
    // A confirmed address also ends the wait of a user who signed up.
    const result = await this.db
      .updateTable('users')
      .set(verified ? { email, email_verified: 1, email_confirmation_required: 0 } : { email, email_verified: 0 })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async setPasswordHash(username: string, passwordHash: string, changedAt: number): Promise<boolean> {
    const result = await this.db
      .updateTable('users')
      .set({ password_hash: passwordHash, password_changed_at: changedAt })
      .where('username', '=', username)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    name: row.name,
    passwordHash: row.password_hash,
    disabledAt: toIntOrNull(row.disabled_at),
    createdAt: toInt(row.created_at),
    passwordChangedAt: toInt(row.password_changed_at),
    secondFactorRequired: Number(row.second_factor_required) === 1,
    emailVerified: Number(row.email_verified) === 1,
    emailConfirmationRequired: Number(row.email_confirmation_required) === 1,
  };
}
