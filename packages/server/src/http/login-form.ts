import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import type { Session } from '../storage/session-store.ts';
import { csrfToken, verifyCsrfToken } from '../ui/csrf.ts';
import { loginPage, type HiddenFields } from '../ui/pages.ts';
import { authenticateUser } from '../users/authenticate-user.ts';
import { PASSWORD_ONLY, type AuthenticationMethod } from '../users/authentication-context.ts';
import { authenticationOptions, passkeysAvailable, verifyPasskeyAssertion, withPasskey } from '../users/passkeys.ts';
import type { User } from '../storage/user-store.ts';
import { DEVICE_COOKIE_SECONDS, deviceCookieValue } from '../users/device-cookie.ts';
import { sessionOrigin, secondFactorDue, SESSION_ABSOLUTE_SECONDS, sessionCookieHeader, sessionCookieName, startSession } from '../users/sessions.ts';
import { cookieHeader, readCookie } from '../lib/cookies.ts';
import type { FormParams } from '../lib/form-params.ts';
import type { SignInResult } from '../observability/metrics.ts';
import { optionalParam, pageTranslator, sendPage } from './page-reply.ts';
import type { Translator } from '../i18n/translator.ts';
import { PATHS } from '../config/paths.ts';
import { listProviders } from '../federation/providers.ts';

/** How long the login form's CSRF binding lives. */
const LOGIN_BINDING_SECONDS = 30 * 60;

/** What a login page shows besides the form itself. */
export interface LoginFormPage {
  action: string;
  clientName: string;
  /** Hidden fields carried through the form (the authorization request, the device's user code). */
  carried: HiddenFields;
  username?: string | undefined;
  /** Where "Sign in with a passkey" posts (LoginForm.submitPasskey); no passkey option without it. */
  passkeyAction?: string;
  /** Where the buttons of upstream providers lead (`{upstreamPath}/{id}?{carried}`); none without it. */
  upstreamPath?: string;
  /** The authorization request's `ui_locales` (OIDC Core §3.1.2.1), which choose the page's language first. */
  uiLocales?: string | undefined;
}

/** `secondFactorDue`: the user has an authenticator app, so the session still owes its code (http/otp-form.ts). */
export type LoginOutcome = { ok: true; value: string; session: Session; secondFactorDue: boolean } | { ok: false; reply: FastifyReply };

/**
 * The login form of every flow (authorization, device): before login its CSRF token is bound to a
 * random cookie of this browser (login CSRF, RFC 6749 §10.12); a successful login starts a new
 * session (no fixation) and ends the browser's previous one. Failures never say whether the username
 * exists; rate limits are counted in the database (users/authenticate-user.ts).
 */
export class LoginForm {
  private readonly secure: boolean;
  private readonly bindingCookie: string;
  private readonly sessionCookie: string;
  private readonly deviceCookie: string;

  private readonly ctx: ServerContext;
  private readonly assetsPath: string;

  constructor(
    ctx: ServerContext,
    assetsPath: string,
  ) {
    this.ctx = ctx;
    this.assetsPath = assetsPath;
    this.secure = ctx.urls.secure;
    this.bindingCookie = this.secure ? '__Host-latchkey_login' : 'latchkey_login';
    this.sessionCookie = sessionCookieName(this.secure);
    this.deviceCookie = this.secure ? '__Host-latchkey_device' : 'latchkey_device';
  }

  /** Shows the form; `fresh` draws a new binding (after a failed CSRF check). */
  async show(request: FastifyRequest, reply: FastifyReply, page: LoginFormPage, status = 200, error?: string, fresh = false): Promise<FastifyReply> {
    const t = pageTranslator(request, page.uiLocales);
    let binding = fresh ? undefined : this.binding(request);
    if (!binding) {
      binding = randomToken(32);
      reply.header('set-cookie', cookieHeader(this.bindingCookie, binding, this.secure, LOGIN_BINDING_SECONDS));
    }
    const token = csrfToken(this.ctx.macKey, `login:${binding}`);
    // The passkey's challenge is bound to this browser's login binding and to the form it answers.
    // The page's script (ui/passkey-script.ts): "Show password" always, the passkey form where offered.
    const scriptNonce = randomToken(16);
    const passkey = page.passkeyAction && passkeysAvailable(this.ctx)
      ? {
          form: {
            t,
            action: page.passkeyAction,
            mode: 'get' as const,
            options: await authenticationOptions(this.ctx, 'sign-in', passkeyBinding(binding, page.passkeyAction)),
            csrfToken: token,
            carried: page.carried,
            label: t.t('login.withPasskey'),
          },
        }
      : undefined;
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(page.carried)) for (const v of typeof value === 'string' ? [value] : value) query.append(name, v);
    const providers = page.upstreamPath
      ? (await listProviders(this.ctx)).map((p) => ({ name: p.displayName, href: `${page.upstreamPath}/${p.id}?${query.toString()}` }))
      : [];
    return sendPage(
      reply,
      status,
      loginPage({
        t,
        assetsPath: this.assetsPath,
        action: page.action,
        clientName: page.clientName,
        csrfToken: token,
        ...(providers.length > 0 ? { providers } : {}),
        carried: page.carried,
        username: page.username,
        error,
        ...(passkey ? { passkey } : {}),
        scriptNonce,
        ...(this.ctx.mail.enabled ? { forgotPath: `${this.ctx.urls.pathPrefix}${PATHS.forgotPassword}` } : {}),
        ...(this.ctx.settings.signup === 'open' ? { signupPath: `${this.ctx.urls.pathPrefix}${PATHS.signup}` } : {}),
      }),
      scriptNonce,
    );
  }

  /** Checks the submitted form; on success the new session's cookie is set on `reply`. */
  async submit(request: FastifyRequest, reply: FastifyReply, params: FormParams, page: LoginFormPage): Promise<LoginOutcome> {
    const t = pageTranslator(request, page.uiLocales);
    const binding = this.binding(request);
    if (!binding || !verifyCsrfToken(this.ctx.macKey, `login:${binding}`, optionalParam(params, 'csrf_token'))) {
      this.count('password', 'form_expired');
      return { ok: false, reply: await this.show(request, reply, page, 403, t.t('login.formExpired'), true) };
    }
    const username = optionalParam(params, 'username') ?? '';
    const retry = { ...page, username };
    const result = await authenticateUser(this.ctx.storage, this.ctx.macKey, {
      username,
      password: optionalParam(params, 'password') ?? '',
      address: request.ip,
      deviceCookie: readCookie(request.headers.cookie, this.deviceCookie),
    });
    if (!result.ok) {
      this.count('password', result.reason);
      if (result.reason === 'rate_limited') {
        reply.header('retry-after', String(result.retryAfterSeconds));
        const error = t.t('login.tooManyAttempts', { wait: waitText(t, result.retryAfterSeconds) });
        return { ok: false, reply: await this.show(request, reply, retry, 429, error) };
      }
      const error = t.t(result.reason === 'disabled' ? 'login.disabled' : 'login.wrongPassword');
      // 400, not 401: a 401 must carry a WWW-Authenticate challenge (RFC 9110 §15.5.2), and a form has none.
      return { ok: false, reply: await this.show(request, reply, retry, 400, error) };
    }
    // A user who signed up signs in once the address is confirmed (users/signup.ts).
    if (result.user.emailConfirmationRequired && !result.user.emailVerified) {
      this.count('password', 'email_unconfirmed');
      return { ok: false, reply: await this.show(request, reply, retry, 403, t.t('login.confirmEmailFirst', { email: result.user.email ?? t.t('login.yourAddress') })) };
    }
    this.count('password', 'success');
    return this.signedIn(request, reply, result.user, PASSWORD_ONLY);
  }

  /**
   * "Sign in with a passkey": the assertion of a discoverable credential (W3C WebAuthn §7.2) for the
   * challenge this form's page was given; it names the user. With user verification it is a whole
   * sign-in of two factors (users/passkeys.ts).
   */
  async submitPasskey(request: FastifyRequest, reply: FastifyReply, params: FormParams, page: LoginFormPage): Promise<LoginOutcome> {
    const t = pageTranslator(request, page.uiLocales);
    const binding = this.binding(request);
    if (!binding || !page.passkeyAction || !verifyCsrfToken(this.ctx.macKey, `login:${binding}`, optionalParam(params, 'csrf_token'))) {
      this.count('passkey', 'form_expired');
      return { ok: false, reply: await this.show(request, reply, page, 403, t.t('login.formExpired'), true) };
    }
    const result = await verifyPasskeyAssertion(this.ctx, 'sign-in', passkeyBinding(binding, page.passkeyAction), optionalParam(params, 'credential'));
    if (!result.ok) {
      request.log.info({ reason: result.reason }, 'passkey sign-in refused');
      this.count('passkey', result.reason === 'disabled' ? 'disabled' : 'passkey_failed');
      const error = t.t(result.reason === 'disabled' ? 'login.disabled' : 'login.passkeyFailed');
      return { ok: false, reply: await this.show(request, reply, page, 400, error) };
    }
    this.count('passkey', 'success');
    return this.signedIn(request, reply, result.user, withPasskey([], result.methods));
  }

  /** What this form decided, in latchkey_server_sign_ins_total (README "Metrics and traces"). */
  private count(method: 'password' | 'passkey', result: SignInResult): void {
    this.ctx.metrics.signIns.inc({ method, result });
  }

  /** A new session for every login (no session fixation); any previous one ends. */
  private async signedIn(request: FastifyRequest, reply: FastifyReply, user: User, amr: readonly AuthenticationMethod[]): Promise<LoginOutcome> {
    const previous = readCookie(request.headers.cookie, this.sessionCookie);
    if (previous) await this.ctx.storage.sessions.delete(sha256(previous));
    const { value, session } = await startSession(this.ctx.storage, user.id, amr, this.ctx.now(), sessionOrigin(request));
    reply.header('set-cookie', [
      sessionCookieHeader(value, this.secure, SESSION_ABSOLUTE_SECONDS),
      cookieHeader(this.bindingCookie, '', this.secure, 0),
      // This browser is now known for this user: exempt from the delay an attack on the account causes.
      cookieHeader(this.deviceCookie, deviceCookieValue(this.ctx.macKey, user), this.secure, DEVICE_COOKIE_SECONDS, 'Strict'),
    ]);
    return { ok: true, value, session, secondFactorDue: await secondFactorDue(this.ctx.storage, session) };
  }

  /** The binding cookie as we set it (43 base64url characters), else undefined. */
  private binding(request: FastifyRequest): string | undefined {
    const value = readCookie(request.headers.cookie, this.bindingCookie);
    return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : undefined;
  }
}

/** A passwordless challenge is good for one browser's login binding and one form. */
const passkeyBinding = (loginBinding: string, action: string) => `${loginBinding}\u0000${action}`;

/** "45 seconds", "1 minute", "8 minutes": seconds below two minutes, whole minutes (rounded up) above. */
export function waitText(t: Translator, seconds: number): string {
  if (seconds < 120) return t.plural('wait.seconds', seconds);
  return t.plural('wait.minutes', Math.ceil(seconds / 60));
}
