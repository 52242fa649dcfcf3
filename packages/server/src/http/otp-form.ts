import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { FormParams } from '../lib/form-params.ts';
import { readCookie } from '../lib/cookies.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import { authenticationOptions, passkeysAvailable, verifyPasskeyAssertion, withPasskey } from '../users/passkeys.ts';
import type { Session } from '../storage/session-store.ts';
import { otpPage } from '../ui/account-pages.ts';
import type { HiddenFields } from '../ui/pages.ts';
import { csrfToken, verifyCsrfToken } from '../ui/csrf.ts';
import type { AuthenticationMethod } from '../users/authentication-context.ts';
import { sessionOrigin, resumePartialSession, SESSION_ABSOLUTE_SECONDS, sessionCookieHeader, sessionCookieName, startSession } from '../users/sessions.ts';
import { checkSecondFactor } from '../users/totp.ts';
import { waitText } from './login-form.ts';
import { optionalParam, pageTranslator, sendPage } from './page-reply.ts';

/** A second-step challenge is good for one partial session and one form. */
const passkeyBinding = (sessionValue: string, action: string) => `${sessionValue}\u0000${action}`;

/** Wrong codes after which a half sign-in ends (the password must be given again). */
export const WRONG_CODES_PER_SIGN_IN = 5;

/** The methods of a first step followed by a one-time code (RFC 8176): that step's, `otp`, and `mfa`. */
export function withOtp(before: readonly AuthenticationMethod[]): AuthenticationMethod[] {
  return [...before.filter((m) => m !== 'mfa' && m !== 'otp'), 'otp', 'mfa'];
}


export interface OtpFormPage {
  action: string;
  carried: HiddenFields;
  /** Where "Use a passkey" posts (OtpForm.submitPasskey); without it, no passkey option. */
  passkeyAction?: string;
  /** The authorization request's `ui_locales` (OIDC Core §3.1.2.1), which choose the page's language first. */
  uiLocales?: string | undefined;
}

export type OtpOutcome =
  | { ok: true; value: string; session: Session }
  /** No session owes a code (none, expired, or already complete): the caller starts over at its login. */
  | { ok: false; reason: 'no_session' }
  | { ok: false; reason: 'refused'; reply: FastifyReply };

/**
 * The second step of every sign-in (authorization, device, account page) for a user with an
 * authenticator app: the password started a session that is good for nothing else
 * (users/sessions.ts `resumePartialSession`); the right code replaces it with a new session (new
 * cookie value, no fixation) whose `amr` is pwd, otp, mfa and whose auth_time is now.
 */
export class OtpForm {
  private readonly ctx: ServerContext;
  private readonly assetsPath: string;
  private readonly sessionCookie: string;

  constructor(ctx: ServerContext, assetsPath: string) {
    this.ctx = ctx;
    this.assetsPath = assetsPath;
    this.sessionCookie = sessionCookieName(ctx.urls.secure);
  }

  /** The session owing its code, with its cookie value; undefined when there is none. */
  async partial(request: FastifyRequest): Promise<{ session: Session; value: string } | undefined> {
    const value = readCookie(request.headers.cookie, this.sessionCookie);
    const session = await resumePartialSession(this.ctx.storage, value, this.ctx.now());
    return session && value ? { session, value } : undefined;
  }

  async show(reply: FastifyReply, current: { session: Session; value: string }, page: OtpFormPage, status = 200, error?: string): Promise<FastifyReply> {
    const t = pageTranslator(reply.request, page.uiLocales);
    const user = await this.ctx.storage.users.findById(current.session.userId);
    const token = csrfToken(this.ctx.macKey, `otp:${current.value}`);
    const usesPasskey = user !== undefined && page.passkeyAction !== undefined && passkeysAvailable(this.ctx) && (await this.ctx.storage.passkeys.hasAny(user.id));
    const passkey =
      usesPasskey && page.passkeyAction
        ? {
            scriptNonce: randomToken(16),
            form: {
              t,
              action: page.passkeyAction,
              mode: 'get' as const,
              options: await authenticationOptions(this.ctx, 'second-factor', passkeyBinding(current.value, page.passkeyAction), user),
              csrfToken: token,
              carried: page.carried,
              label: t.t('otp.usePasskey'),
              kind: 'primary' as const,
            },
          }
        : undefined;
    return sendPage(
      reply,
      status,
      otpPage({
        t,
        assetsPath: this.assetsPath,
        action: page.action,
        csrfToken: token,
        carried: page.carried,
        username: user?.name ?? user?.username ?? '',
        totp: user !== undefined && (await this.ctx.storage.totp.isEnabled(user.id)),
        ...(passkey ? { passkey } : {}),
        ...(error !== undefined ? { error } : {}),
      }),
      passkey?.scriptNonce,
    );
  }

  /**
   * The second step with a passkey of this user (W3C WebAuthn §7.2), for the challenge its page was
   * given: the new session's amr is pwd, hwk or swk (user), mfa.
   */
  async submitPasskey(request: FastifyRequest, reply: FastifyReply, params: FormParams, page: OtpFormPage): Promise<OtpOutcome> {
    const current = await this.partial(request);
    if (!current || !page.passkeyAction) return { ok: false, reason: 'no_session' };
    if (!verifyCsrfToken(this.ctx.macKey, `otp:${current.value}`, optionalParam(params, 'csrf_token'))) {
      return { ok: false, reason: 'refused', reply: await this.show(reply, current, page, 403, pageTranslator(request, page.uiLocales).t('page.formExpired')) };
    }
    const result = await verifyPasskeyAssertion(this.ctx, 'second-factor', passkeyBinding(current.value, page.passkeyAction), optionalParam(params, 'credential'), current.session.userId);
    if (!result.ok) {
      request.log.info({ reason: result.reason }, 'passkey second step refused');
      return { ok: false, reason: 'refused', reply: await this.show(reply, current, page, 400, pageTranslator(request, page.uiLocales).t('otp.passkeyFailed')) };
    }
    await this.ctx.storage.sessions.delete(sha256(current.value));
    const { value, session } = await startSession(this.ctx.storage, result.user.id, withPasskey(current.session.amr, result.methods), this.ctx.now(), sessionOrigin(request), undefined, current.session.sid);
    reply.header('set-cookie', sessionCookieHeader(value, this.ctx.urls.secure, SESSION_ABSOLUTE_SECONDS));
    return { ok: true, value, session };
  }

  async submit(request: FastifyRequest, reply: FastifyReply, params: FormParams, page: OtpFormPage): Promise<OtpOutcome> {
    const current = await this.partial(request);
    if (!current) return { ok: false, reason: 'no_session' };
    if (!verifyCsrfToken(this.ctx.macKey, `otp:${current.value}`, optionalParam(params, 'csrf_token'))) {
      return { ok: false, reason: 'refused', reply: await this.show(reply, current, page, 403, pageTranslator(request, page.uiLocales).t('page.formExpired')) };
    }
    const user = await this.ctx.storage.users.findById(current.session.userId);
    if (!user) return { ok: false, reason: 'no_session' };
    const check = await checkSecondFactor(this.ctx, user, optionalParam(params, 'code') ?? '');
    if (!check.ok) {
      const t = pageTranslator(request, page.uiLocales);
      if (check.reason === 'unreadable') {
        return { ok: false, reason: 'refused', reply: await this.show(reply, current, page, 503, t.t('otp.unreadable')) };
      }
      if (check.reason === 'locked') {
        return { ok: false, reason: 'refused', reply: await this.show(reply, current, page, 429, t.t('otp.locked')) };
      }
      // A few wrong codes end the half sign-in: the next try starts again with the password, whose
      // own limits then apply too (docs/account.md).
      if (check.reason === 'invalid_code' && check.failures % WRONG_CODES_PER_SIGN_IN === 0) {
        await this.ctx.storage.sessions.delete(sha256(current.value));
        request.log.info({ user: user.id }, 'half sign-in ended after wrong codes');
        return { ok: false, reason: 'no_session' };
      }
      if (check.reason === 'rate_limited') {
        reply.header('retry-after', String(check.retryAfterSeconds));
        const error = t.t('otp.tooManyWait', { wait: waitText(t, check.retryAfterSeconds) });
        return { ok: false, reason: 'refused', reply: await this.show(reply, current, page, 429, error) };
      }
      return { ok: false, reason: 'refused', reply: await this.show(reply, current, page, 400, t.t('otp.wrongCode')) };
    }
    // A recovery code is a one-time code kept on paper (RFC 8176 has no value of its own for it): the
    // same amr; its use is recorded (storage/recovery-code-store.ts) and shown on the account page.
    if (check.method === 'recovery_code') request.log.warn({ user: user.id }, 'signed in with a recovery code');
    await this.ctx.storage.sessions.delete(sha256(current.value));
    // What the first step was (a password, or an upstream provider), then the code: two factors.
    const { value, session } = await startSession(this.ctx.storage, user.id, withOtp(current.session.amr), this.ctx.now(), sessionOrigin(request), undefined, current.session.sid);
    reply.header('set-cookie', sessionCookieHeader(value, this.ctx.urls.secure, SESSION_ABSOLUTE_SECONDS));
    return { ok: true, value, session };
  }
}
