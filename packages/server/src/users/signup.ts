import type { ServerContext } from '../context.ts';
import { RegistryError } from '../errors.ts';
import { addressKey } from '../lib/address-key.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import type { Translator } from '../i18n/translator.ts';
import { invitationMessage, validFor } from '../mail/templates.ts';
import type { User } from '../storage/user-store.ts';
import { defaultTranslator, plausibleEmail, sendVerificationLink, service } from './email-links.ts';
import type { MessageKey } from '../i18n/catalogs.ts';
import { chosenPasswordProblem, type PasswordProblem } from './password-rules.ts';
import { UserRegistry } from './user-registry.ts';

/**
 * Sign-up (issue 16), as the setting LATCHKEY_SIGNUP says: `off`; `invite`, where an operator's
 * single-use invitation (`users invite EMAIL`) is the only way in and the invited address is taken as
 * confirmed; or `open`, where anyone may sign up (with an address in LATCHKEY_SIGNUP_EMAIL_DOMAINS when
 * set) and must confirm the address by its link before the first sign-in. Passwords follow the rules
 * for chosen passwords (users/password-rules.ts); sign-ups are limited per address. See docs/email.md.
 */

/** How long an invitation works, unless the operator says otherwise. */
export const INVITATION_SECONDS = 7 * 24 * 3600;

export interface Invitation {
  email: string;
  link: string;
  expiresAt: number;
  /** Whether it was sent by mail (mail configured), else only printed. */
  mailed: boolean;
}

/**
 * One implementation for the CLI (and the admin API to come): creates an invitation, and mails it when
 * mail is configured, in the language of `t` (the server's default unless the caller names one).
 */
export async function inviteUser(ctx: ServerContext, email: string, expiresInSeconds = INVITATION_SECONDS, t: Translator = defaultTranslator(ctx)): Promise<Invitation> {
  const address = email.trim();
  if (!plausibleEmail(address)) throw new RegistryError('that is not an email address', 'invalid');
  if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 60 || expiresInSeconds > 90 * 24 * 3600) {
    throw new RegistryError('an invitation lasts between 60 seconds and 90 days', 'invalid');
  }
  const token = randomToken(32);
  const now = ctx.now();
  await ctx.storage.db.kysely
    .insertInto('invitations')
    .values({ token_hash: sha256(token), email: address, created_at: now, expires_at: now + expiresInSeconds, used_at: null, user_id: null })
    .execute();
  const link = `${ctx.settings.issuer}/signup?invitation=${token}`;
  const mailed = ctx.mail.enabled;
  if (mailed) await ctx.mail.enqueue(invitationMessage({ to: address, service: service(ctx), link, validFor: validFor(t, Math.round(expiresInSeconds / 86400) || 1, 'days') }, t));
  return { email: address, link, expiresAt: now + expiresInSeconds, mailed };
}

/** The live invitation of a token (not used, not expired), without using it. */
export async function findInvitation(ctx: ServerContext, token: string): Promise<{ email: string } | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const row = await ctx.storage.db.kysely
    .selectFrom('invitations')
    .select(['email'])
    .where('token_hash', '=', sha256(token))
    .where('used_at', 'is', null)
    .where('expires_at', '>', ctx.now())
    .executeTakeFirst();
  return row;
}

export interface SignupInput {
  username: string;
  email: string;
  name?: string;
  password: string;
  /** The invitation's token (sign-up by invitation). */
  invitation?: string;
}

export type SignupOutcome =
  /** `confirmed`: the address is confirmed (an invitation): the user may sign in now; else a link was mailed. */
  | { ok: true; user: User; confirmed: boolean }
  /**
   * `message`: why, as a message key the page translates; for a password the rules refuse it is
   * `signup.passwordRefused`, and `password` says which rule (users/password-rules.ts).
   */
  | { ok: false; reason: 'closed' | 'rate_limited' | 'invalid'; message: MessageKey; password?: PasswordProblem; retryAfterSeconds?: number };

/** The shape of a username (users/user-registry.ts), compared without regard to case. */
const USERNAME = /^[a-z0-9._@-]{1,64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Whether an address may sign up openly: any, or one of LATCHKEY_SIGNUP_EMAIL_DOMAINS. */
export function domainAllowed(ctx: ServerContext, email: string): boolean {
  const domains = ctx.settings.signupEmailDomains.split(',').map((d) => d.trim().toLowerCase()).filter((d) => d !== '');
  if (domains.length === 0) return true;
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  return domains.includes(domain);
}

/**
 * Creates the account. Everything is checked before anything is written; an invitation is used with
 * one conditional UPDATE (so one account per invitation, on any node), and given back if the account
 * cannot be created (a username taken). `t`: the language of the sign-up page, which the verification
 * mail is written in (the server's default without it).
 */
export async function signUp(ctx: ServerContext, input: SignupInput, address: string, t?: Translator): Promise<SignupOutcome> {
  const policy = ctx.settings.signup;
  if (policy === 'off' || (policy === 'invite' && input.invitation === undefined)) return { ok: false, reason: 'closed', message: 'signup.closed' };
  const now = ctx.now();
  const windowStart = now - (now % 3600);
  if ((await ctx.storage.rateLimits.hit(`signup:${addressKey(address)}`, windowStart)) > ctx.settings.signupRateLimitPerHour) {
    return { ok: false, reason: 'rate_limited', message: 'signup.tooMany', retryAfterSeconds: windowStart + 3600 - now };
  }
  const email = input.email.trim();
  let invited: { email: string } | undefined;
  if (input.invitation !== undefined) {
    invited = await findInvitation(ctx, input.invitation);
    if (!invited) return { ok: false, reason: 'closed', message: 'signup.invitationDead' };
  } else if (!domainAllowed(ctx, email)) {
    return { ok: false, reason: 'invalid', message: 'signup.domainNotAllowed' };
  }
  // An invitation is for its address: the account gets that one, confirmed.
  const address_ = invited ? invited.email : email;
  if (!plausibleEmail(address_)) return { ok: false, reason: 'invalid', message: 'signup.notAnAddress' };
  // A username shaped like an address must be the user's own: "Forgot password?" looks usernames up.
  if (input.username.includes('@') && input.username.trim().toLowerCase() !== address_.toLowerCase()) {
    return { ok: false, reason: 'invalid', message: 'signup.usernameIsAddress' };
  }
  const password = chosenPasswordProblem(input.password, { username: input.username, email: address_ });
  if (password) return { ok: false, reason: 'invalid', message: 'signup.passwordRefused', password };
  // What the registry would refuse (users/user-registry.ts), said here in words a page can translate.
  if (!USERNAME.test(input.username.trim().toLowerCase())) return { ok: false, reason: 'invalid', message: 'signup.usernameInvalid' };
  const name = input.name?.trim() ?? '';
  if (name.length > 200) return { ok: false, reason: 'invalid', message: 'signup.nameTooLong' };
  if (CONTROL.test(name)) return { ok: false, reason: 'invalid', message: 'signup.nameControl' };
  if (invited) {
    const used = await ctx.storage.db.kysely
      .updateTable('invitations')
      .set({ used_at: now })
      .where('token_hash', '=', sha256(input.invitation!))
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(used.numUpdatedRows) === 0) return { ok: false, reason: 'closed', message: 'signup.invitationDead' };
  }
  let view;
  try {
    view = await new UserRegistry(ctx.storage).create({
      username: input.username,
      email: address_,
      ...(input.name ? { name: input.name } : {}),
      password: input.password,
      emailVerified: invited !== undefined,
      emailConfirmationRequired: invited === undefined,
    });
  } catch (err) {
    if (invited) await ctx.storage.db.kysely.updateTable('invitations').set({ used_at: null }).where('token_hash', '=', sha256(input.invitation!)).execute();
    if (err instanceof RegistryError && (err.code === 'invalid' || err.code === 'conflict')) {
      return { ok: false, reason: 'invalid', message: err.code === 'conflict' ? 'signup.usernameTaken' : 'signup.notAccepted' };
    }
    throw err;
  }
  const user = (await ctx.storage.users.findById(view.id))!;
  if (invited) {
    await ctx.storage.db.kysely.updateTable('invitations').set({ user_id: user.id }).where('token_hash', '=', sha256(input.invitation!)).execute();
    return { ok: true, user, confirmed: true };
  }
  await sendVerificationLink(ctx, user, address_, t);
  return { ok: true, user, confirmed: false };
}
