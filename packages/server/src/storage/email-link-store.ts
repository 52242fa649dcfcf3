import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { deleteBatch } from './purge.ts';
import { toInt } from './values.ts';

export type EmailLinkPurpose = 'verify-email' | 'reset-password';

export interface EmailLink {
  userId: string;
  purpose: EmailLinkPurpose;
  email: string;
  createdAt: number;
  expiresAt: number;
}

/** Links sent by mail, by the SHA-256 of their token (the token itself is only in the message). */
export class EmailLinkStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async create(tokenHash: string, link: EmailLink): Promise<void> {
    await this.db
      .insertInto('email_links')
      .values({ token_hash: tokenHash, user_id: link.userId, purpose: link.purpose, email: link.email, created_at: link.createdAt, expires_at: link.expiresAt, used_at: null })
      .execute();
  }

  /** The live link of this hash and purpose (not used, not expired), without using it. */
  async findLive(tokenHash: string, purpose: EmailLinkPurpose, now: number): Promise<EmailLink | undefined> {
    const row = await this.db
      .selectFrom('email_links')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row ? { userId: row.user_id, purpose, email: row.email, createdAt: toInt(row.created_at), expiresAt: toInt(row.expires_at) } : undefined;
  }

  /** Uses the link: one conditional UPDATE, so of two uses (on any nodes) one succeeds. */
  async use(tokenHash: string, purpose: EmailLinkPurpose, now: number): Promise<EmailLink | undefined> {
    const link = await this.findLive(tokenHash, purpose, now);
    if (!link) return undefined;
    const result = await this.db
      .updateTable('email_links')
      .set({ used_at: now })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0 ? link : undefined;
  }

  /** Makes every live link of the user for `purpose` unusable (a newer one replaces them, or a reset is done). */
  async retire(userId: string, purpose: EmailLinkPurpose, now: number): Promise<void> {
    await this.db.updateTable('email_links').set({ used_at: now }).where('user_id', '=', userId).where('purpose', '=', purpose).where('used_at', 'is', null).execute();
  }

  async purgeExpired(before: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'email_links', 'token_hash', (eb) => eb('expires_at', '<', before), limit);
  }
}
