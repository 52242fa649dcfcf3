import type { ServerContext } from '../context.ts';
import { addressKey } from '../lib/address-key.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import type { Translator } from '../i18n/translator.ts';
import { emailChangedMessage, resetPasswordMessage, validFor, verifyEmailMessage } from '../mail/templates.ts';
import type { EmailLinkPurpose } from '../storage/email-link-store.ts';
import type { User } from '../storage/user-store.ts';
import { chosenPasswordProblem, type PasswordProblem } from './password-rules.ts';
import { UserRegistry } from './user-registry.ts';

/**
 * Single-use links sent by mail (issue 16): email verification and password reset. The token (256
 * random bits) is only in the message; the database keeps its SHA-256, the address it was sent to, and
 * its expiry. A link is used with one conditional UPDATE, so it works once on any node; a new link of
 * the same purpose retires the user's earlier ones. See docs/email.md.
 */

/** How long a verification link works. */
export const VERIFY_EMAIL_SECONDS = 24 * 3600;
/** How long a password reset link works: short, it opens the account. */
export const RESET_PASSWORD_SECONDS = 30 * 60;
/** Password reset requests: per address of the requester, and per account, per hour. */
export const RESETS_PER_ADDRESS_PER_HOUR = 10;
export const RESETS_PER_ACCOUNT_PER_HOUR = 3;

/** A loose check of an address: one @, something on each side, no spaces; at most 254 characters (RFC 5321 §4.5.3.1.3). */
export function plausibleEmail(email: string): boolean {
  // eslint-disable-next-line no-control-regex
  return email.length <= 254 && !/[\u0000-\u001f\u007f]/.test(email) && /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+\.[^\s@<>()",;:\\[\]]+$/.test(email);
}

async function issueLink(ctx: ServerContext, user: User, purpose: EmailLinkPurpose, email: string, seconds: number): Promise<string> {
  const token = randomToken(32);
  const now = ctx.now();
  await ctx.storage.emailLinks.retire(user.id, purpose, now);
  await ctx.storage.emailLinks.create(sha256(token), { userId: user.id, purpose, email, createdAt: now, expiresAt: now + seconds });
  return token;
}

/** Who the mail is from, in words: the operator's product name, or the issuer's host for Latchkey's own. */
export const service = (ctx: ServerContext) => (ctx.theme.productName !== 'Latchkey' ? ctx.theme.productName : new URL(ctx.settings.issuer).host);

/** The language of mail when the caller names none: the server's default (LATCHKEY_DEFAULT_LOCALE). */
export const defaultTranslator = (ctx: ServerContext): Translator => ctx.languages.translator(ctx.languages.defaultLocale);

/**
 * Sends a link that verifies `email` for the user: their current address, or a new one, which
 * replaces the current one only when the link is followed (until then the old one stays in use).
 * `t`: the language of the page that asked for it (the mail is written in it).
 */
export async function sendVerificationLink(ctx: ServerContext, user: User, email: string, t: Translator = defaultTranslator(ctx)): Promise<void> {
  const token = await issueLink(ctx, user, 'verify-email', email, VERIFY_EMAIL_SECONDS);
  const link = `${ctx.settings.issuer}/account/verify-email?token=${token}`;
  await ctx.mail.enqueue(verifyEmailMessage({ to: email, service: service(ctx), link, validFor: validFor(t, VERIFY_EMAIL_SECONDS / 3600, 'hours') }, t));
}

/** The live verification link of a token (without using it): the address it confirms. */
export async function verificationLinkLive(ctx: ServerContext, token: string): Promise<{ email: string } | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const link = await ctx.storage.emailLinks.findLive(sha256(token), 'verify-email', ctx.now());
  return link ? { email: link.email } : undefined;
}

/**
 * Follows a verification link: the address it was sent to becomes the user's, verified. `t`: the
 * language of the page, for the notice to the old address.
 */
export async function verifyEmail(ctx: ServerContext, token: string, t: Translator = defaultTranslator(ctx)): Promise<User | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const link = await ctx.storage.emailLinks.use(sha256(token), 'verify-email', ctx.now());
  if (!link) return undefined;
  const user = await ctx.storage.users.findById(link.userId);
  if (!user || user.disabledAt !== null) return undefined;
  await ctx.storage.users.setEmail(user.id, link.email, true);
  const old = user.email;
  if (old !== null && old.toLowerCase() !== link.email.toLowerCase()) {
    // The old address is told, and reset links sent to it stop working.
    await ctx.storage.emailLinks.retire(user.id, 'reset-password', ctx.now());
    // The warning to the old address is in the server's default language, not the language of the
    // browser that opened the link: in a takeover that browser is the attacker's, who could choose a
    // language the owner cannot read (docs/languages.md).
    await ctx.mail.enqueue(emailChangedMessage({ to: old, service: service(ctx), username: user.username, newEmail: link.email }, defaultTranslator(ctx)));
  }
  return { ...user, email: link.email, emailVerified: true };
}

export type ResetRequest = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * "Forgot password?": limits per requesting address, checked before anything else and the same for
 * every answer. The accounts (by username or address) are looked up and mailed after the answer is
 * sent (`deliver`), so neither the answer nor its timing says whether an account exists. `t`: the
 * language of the page, which the mail is written in.
 */
export async function requestPasswordReset(ctx: ServerContext, identifier: string, address: string, t: Translator = defaultTranslator(ctx)): Promise<{ limited?: number; deliver: () => Promise<void> }> {
  const now = ctx.now();
  const windowStart = now - (now % 3600);
  const count = await ctx.storage.rateLimits.hit(`password-reset:${addressKey(address)}`, windowStart);
  if (count > RESETS_PER_ADDRESS_PER_HOUR) return { limited: windowStart + 3600 - now, deliver: async () => undefined };
  return {
    deliver: async () => {
      const wanted = identifier.trim();
      if (wanted === '' || wanted.length > 254) return;
      // By username and, for something that looks like an address, by address too: a username shaped
      // like someone's address must not capture their reset (each account's link goes to its own address).
      const byName = await ctx.storage.users.findByUsername(wanted.toLowerCase());
      const byEmail = wanted.includes('@') ? await ctx.storage.users.findByEmail(wanted) : [];
      const users = [...new Map([...(byName ? [byName] : []), ...byEmail].map((u) => [u.id, u])).values()];
      for (const user of users) {
        if (!user.email || user.disabledAt !== null) continue;
        // Per account too: someone who knows the address cannot fill its mailbox.
        if ((await ctx.storage.rateLimits.hit(`password-reset:user:${user.id}`, windowStart)) > RESETS_PER_ACCOUNT_PER_HOUR) continue;
        const token = await issueLink(ctx, user, 'reset-password', user.email, RESET_PASSWORD_SECONDS);
        const link = `${ctx.settings.issuer}/login/reset?token=${token}`;
        await ctx.mail.enqueue(resetPasswordMessage({ to: user.email, username: user.username, service: service(ctx), link, validFor: validFor(t, RESET_PASSWORD_SECONDS / 60, 'minutes') }, t));
      }
    },
  };
}

/** Whether a reset link is live (the page shows the form only then); does not use it. */
export async function resetLinkLive(ctx: ServerContext, token: string): Promise<boolean> {
  return /^[A-Za-z0-9_-]{43}$/.test(token) && (await ctx.storage.emailLinks.findLive(sha256(token), 'reset-password', ctx.now())) !== undefined;
}

export type ResetOutcome = { ok: true; user: User } | { ok: false; reason: 'invalid_link' } | { ok: false; reason: 'invalid_password'; problem: PasswordProblem };

/**
 * Sets a new password with a reset link: the password is checked first (a refused one leaves the link
 * usable), then the link is used, the password set, every session ended and every grant revoked (its
 * refresh and access tokens stop working): whoever knew the old password is out.
 */
export async function resetPassword(ctx: ServerContext, token: string, password: string): Promise<ResetOutcome> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return { ok: false, reason: 'invalid_link' };
  const live = await ctx.storage.emailLinks.findLive(sha256(token), 'reset-password', ctx.now());
  const user = live && (await ctx.storage.users.findById(live.userId));
  if (!user || user.disabledAt !== null) return { ok: false, reason: 'invalid_link' };
  const problem = chosenPasswordProblem(password, user);
  if (problem) return { ok: false, reason: 'invalid_password', problem };
  const link = await ctx.storage.emailLinks.use(sha256(token), 'reset-password', ctx.now());
  if (!link) return { ok: false, reason: 'invalid_link' };
  await new UserRegistry(ctx.storage).setPassword(user.username, password);
  await ctx.storage.grants.revokeAllForUser(user.id, ctx.now());
  await ctx.storage.emailLinks.retire(user.id, 'reset-password', ctx.now());
  // The link reached the address: it is the user's, verified.
  if (user.email !== null && user.email.toLowerCase() === link.email.toLowerCase() && !user.emailVerified) await ctx.storage.users.setEmail(user.id, user.email, true);
  return { ok: true, user };
}
