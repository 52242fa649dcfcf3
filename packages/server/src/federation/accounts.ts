import type { ServerContext } from '../context.ts';
import { RegistryError } from '../errors.ts';
import { randomToken } from '../lib/random.ts';
import type { User } from '../storage/user-store.ts';
import { UserRegistry } from '../users/user-registry.ts';
import type { UpstreamIdentity } from './upstream-login.ts';

/**
 * The local user of an upstream account (issue 16). A link (provider, `sub`) names it; a first sign-in
 * links to the local user with the same address only when the provider says the address is verified,
 * the operator allowed it for this provider (`--link-by-email`), and exactly one local user has that
 * address; otherwise it creates a new local user (a username from the upstream's, made unique; no
 * usable password until the user sets one with "Forgot password?"). `sub` is compared as given.
 */
export type AccountOutcome = { ok: true; user: User; created: boolean; linked: boolean } | { ok: false; reason: 'disabled' | 'no_account' };

export async function accountFor(ctx: ServerContext, identity: UpstreamIdentity): Promise<AccountOutcome> {
  const db = ctx.storage.db.kysely;
  const now = ctx.now();
  const link = await db.selectFrom('user_links').select('user_id').where('provider_id', '=', identity.provider.id).where('subject', '=', identity.subject).executeTakeFirst();
  if (link) {
    const user = await ctx.storage.users.findById(link.user_id);
    // A local account that signed up and never confirmed its address is not signed in this way either.
    if (user && user.disabledAt === null && !(user.emailConfirmationRequired && !user.emailVerified)) {
      await db.updateTable('user_links').set({ last_used_at: now }).where('provider_id', '=', identity.provider.id).where('subject', '=', identity.subject).execute();
      return { ok: true, user, created: false, linked: false };
    }
    if (user) return { ok: false, reason: 'disabled' };
    // The local user was deleted: the link goes, and a new account is made below.
    await db.deleteFrom('user_links').where('provider_id', '=', identity.provider.id).where('subject', '=', identity.subject).execute();
  }
  let user: User | undefined;
  let created = false;
  if (identity.provider.linkByEmail && identity.email && identity.emailVerified) {
    // Only a local address that is itself verified: an account someone made with another's address
    // and never confirmed must not receive that person's sign-in.
    const same = (await ctx.storage.users.findByEmail(identity.email)).filter((u) => u.emailVerified === true && !u.emailConfirmationRequired);
    if (same.length === 1) {
      if (same[0]!.disabledAt !== null) return { ok: false, reason: 'disabled' };
      user = same[0];
    }
  }
  if (!user) {
    // A link-only provider (`--no-create`): only users who exist here sign in this way.
    if (!identity.provider.createUsers) return { ok: false, reason: 'no_account' };
    user = await createLocalUser(ctx, identity);
    created = true;
  }
  await db
    .insertInto('user_links')
    .values({ provider_id: identity.provider.id, subject: identity.subject, user_id: user.id, email: identity.email ?? null, created_at: now, last_used_at: now })
    .onConflict((oc) => oc.columns(['provider_id', 'subject']).doNothing())
    .execute();
  return { ok: true, user, created, linked: !created };
}

/** A username from the upstream's (preferred_username, the address, or the provider and sub), made to fit and unique. */
async function createLocalUser(ctx: ServerContext, identity: UpstreamIdentity): Promise<User> {
  const base =
    (identity.preferredUsername ?? identity.email ?? `${identity.provider.id}-${identity.subject}`)
      .toLowerCase()
      // Never an address as username: "Forgot password?" looks usernames up first (users/email-links.ts).
      .replace(/@.*$/, '')
      .replace(/[^a-z0-9._@-]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 56) || identity.provider.id;
  const registry = new UserRegistry(ctx.storage);
  for (let attempt = 0; attempt < 6; attempt++) {
    const username = attempt === 0 ? base : `${base}-${randomToken(3).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
    try {
      const view = await registry.create({
        username,
        // No password anyone knows: the user signs in at the provider, or sets one by mail.
        password: randomToken(32),
        ...(identity.email ? { email: identity.email } : {}),
        ...(identity.name ? { name: identity.name } : {}),
        // The provider's email_verified is passed on only when the operator trusts it about addresses
        // (--link-by-email); otherwise the address is the user's word, unverified.
        emailVerified: identity.email !== undefined && identity.emailVerified && identity.provider.linkByEmail,
      });
      return (await ctx.storage.users.findById(view.id))!;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'conflict') continue;
      throw err;
    }
  }
  throw new Error('no free username for the upstream account');
}

/** The user's links, for the account page. */
export async function linksOf(ctx: ServerContext, userId: string): Promise<{ providerId: string; displayName: string; email: string | null; lastUsedAt: number }[]> {
  const rows = await ctx.storage.db.kysely
    .selectFrom('user_links')
    .leftJoin('upstream_providers', 'upstream_providers.id', 'user_links.provider_id')
    .select(['user_links.provider_id', 'upstream_providers.display_name', 'user_links.email', 'user_links.last_used_at'])
    .where('user_links.user_id', '=', userId)
    .execute();
  return rows.map((r) => ({ providerId: r.provider_id, displayName: r.display_name ?? r.provider_id, email: r.email, lastUsedAt: Number(r.last_used_at) }));
}

/** Removes one of the user's links; false when there is none. */
export async function unlink(ctx: ServerContext, userId: string, providerId: string): Promise<boolean> {
  const result = await ctx.storage.db.kysely.deleteFrom('user_links').where('user_id', '=', userId).where('provider_id', '=', providerId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
