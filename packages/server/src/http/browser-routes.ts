import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AuthorizationPageError,
  AuthorizationRedirectError,
  readAuthorizationRequest,
  type AuthorizationRequest,
} from '../authorize/authorization-request.ts';
import { authorizationResponseUrl, toClientIfUnavailable } from '../authorize/authorization-response.ts';
import { authenticationDue, consentGiven, decideNextStep, needsFreshLogin, type NextStep } from '../authorize/decide.ts';
import { PASSKEY_SCRIPT } from '../ui/passkey-script.ts';
import { registerPasskeyStepRoutes } from './passkey-step-routes.ts';
import { registerFederationRoutes } from './federation-routes.ts';
import type { ServerContext } from '../context.ts';
import { PATHS } from '../config/paths.ts';
import { AccessDenied } from '../errors.ts';
import { authorizationEndpoint } from '../endpoints/authorize.ts';
import type { Session } from '../storage/session-store.ts';
import { csrfToken, loginProof, verifyCsrfToken, verifyLoginProof } from '../ui/csrf.ts';
import { consentPage, errorPage } from '../ui/pages.ts';
import { redirectHost } from '../ui/redirect-host.ts';
import { describeApis, describeScopes } from '../ui/scope-descriptions.ts';
import { STYLESHEET } from '../ui/stylesheet.ts';
import { resumeSession, sessionCookieName } from '../users/sessions.ts';
import { readCookie } from '../lib/cookies.ts';
import { LoginForm } from './login-form.ts';
import { OtpForm, withOtp } from './otp-form.ts';
import { waitText } from './login-form.ts';
import { sha256 } from '../lib/random.ts';
import { recoveryCodesPage, totpSetupPage } from '../ui/account-pages.ts';
import { issueRecoveryCodes } from '../users/recovery-codes.ts';
import { beginTotpEnrolment, checkTotpCode, pendingTotpEnrolment } from '../users/totp.ts';
import { SESSION_ABSOLUTE_SECONDS, sessionCookieHeader, sessionOrigin, startSession } from '../users/sessions.ts';
import type { FormParams } from '../lib/form-params.ts';
import { optionalParam, pageParams, pageTranslator, sendErrorPage, sendPage } from './page-reply.ts';


/**
 * The pages a person sees: the authorization endpoint (GET and POST, OIDC Core §3.1.2.1), the login
 * and consent forms, and their stylesheet. State between them travels in the pages' hidden fields and
 * is validated again at every step, so any node can serve any step.
 */
export function registerBrowserRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const steps = new BrowserSteps(ctx);
  registerAuthorizationRoutes(app, ctx, steps);
  registerLoginRoutes(app, ctx, steps);
  registerConsentRoutes(app, ctx, steps);
  app.get('/assets/latchkey.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
  );
  // The operator's look (ui/theme.ts): its colours, stylesheet and logo, from this origin.
  const { theme } = ctx;
  if (theme.colorCss) app.get('/assets/theme-colors.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(theme.colorCss));
  if (theme.css) app.get('/assets/theme.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(theme.css));
  if (theme.logo) {
    const logo = theme.logo;
    // Opened on its own, an SVG is a document: it may run nothing.
    app.get(`/assets/${logo.file}`, async (_request, reply) =>
      reply.type(logo.type).header('cache-control', 'public, max-age=3600').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").header('x-content-type-options', 'nosniff').send(logo.body),
    );
  }
  app.get('/assets/passkey.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').header('x-content-type-options', 'nosniff').send(PASSKEY_SCRIPT),
  );
  registerPasskeyStepRoutes(app, ctx, steps);
  registerFederationRoutes(app, ctx, steps);
}

/** What the steps share: redirects, the URLs of the pages, the session, and how errors are answered. */
export class BrowserSteps {
  readonly assetsPath: string;
  private readonly sessionCookie: string;

  private readonly ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.ctx = ctx;
    this.assetsPath = `${ctx.urls.pathPrefix}/assets`;
    this.sessionCookie = sessionCookieName(ctx.urls.secure);
  }

  // RFC 9700 §4.12: after a POST carrying credentials, redirect with 303 so the browser does not
  // send the form again to the next location (docs/security.md A11). 303 is used for every redirect here.
  redirect(reply: FastifyReply, location: string): FastifyReply {
    return reply.header('cache-control', 'no-store').redirect(location, 303);
  }

  pageUrl(path: string, request: AuthorizationRequest, extra: Record<string, string> = {}): string {
    const query = new URLSearchParams();
    // A repeatable parameter (RFC 8707 `resource`) keeps every value.
    for (const [name, value] of Object.entries({ ...request.params, ...extra })) {
      for (const v of typeof value === 'string' ? [value] : value) query.append(name, v);
    }
    return `${this.ctx.urls.pathPrefix}${path}?${query.toString()}`;
  }

  sendNext(reply: FastifyReply, request: AuthorizationRequest, next: NextStep, proof?: string): FastifyReply {
    if (next.step === 'login') return this.redirect(reply, this.pageUrl(PATHS.login, request));
    if (next.step === 'second-factor') return this.redirect(reply, this.pageUrl(PATHS.loginOtpSetup, request));
    if (next.step === 'passkey') return this.redirect(reply, this.pageUrl(PATHS.loginPasskeyStep, request));
    if (next.step === 'consent') return this.redirect(reply, this.pageUrl(PATHS.consent, request, proof ? { login_proof: proof } : {}));
    return this.redirect(reply, next.location);
  }

  sessionValue(request: FastifyRequest): string | undefined {
    return readCookie(request.headers.cookie, this.sessionCookie);
  }

  currentSession(request: FastifyRequest): Promise<Session | undefined> {
    return resumeSession(this.ctx.storage, this.sessionValue(request), this.ctx.now());
  }

  /**
   * The consent steps' session: undefined when a fresh login is still owed (prompt=login, max_age)
   * and not proven by the login form of this request.
   */
  async consentSession(request: FastifyRequest, authorization: AuthorizationRequest, params: FormParams) {
    const sessionValue = this.sessionValue(request);
    const session = await resumeSession(this.ctx.storage, sessionValue, this.ctx.now());
    if (!session || !sessionValue) return undefined;
    const proof = optionalParam(params, 'login_proof');
    if (needsFreshLogin(authorization, session, this.ctx.now()) && !verifyLoginProof(this.ctx.macKey, sessionValue, authorization.params, proof)) {
      return undefined;
    }
    return { session, sessionValue, proof };
  }

  paramsOf(request: FastifyRequest): FormParams {
    const params = pageParams(request);
    if (!params) throw new AuthorizationPageError('error.invalid.title', 'error.invalid.formUnreadable');
    return params;
  }

  /**
   * Errors of any step: a page when the client cannot be trusted, else back to the client (a database
   * that fails once the request is validated too: authorize/authorization-response.ts); anything else,
   * a 503 or 500 page.
   */
  fail(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
    if (err instanceof AuthorizationPageError) {
      request.log.info({ reason: err.message }, 'authorization request refused with an error page');
      // The request was not read: its ui_locales, if any, are taken as they came (i18n/languages.ts).
      const params = pageParams(request);
      const t = pageTranslator(request, params ? optionalParam(params, 'ui_locales') : undefined);
      return sendPage(reply, err.status, errorPage(t, this.assetsPath, t.t(err.title), t.t(err.explanation)));
    }
    if (err instanceof AuthorizationRedirectError) {
      request.log.info({ error: err.oauth.error, detail: err.oauth.detail ?? err.oauth.description }, 'authorization request refused');
      return this.redirect(reply, authorizationResponseUrl(err.target.redirectUri, this.ctx.settings.issuer, err.target.state, { error: err.oauth }));
    }
    return sendErrorPage(request, reply, err, this.assetsPath);
  }
}

/** The authorization endpoint (endpoints/authorize.ts), GET and POST. */
function registerAuthorizationRoutes(app: FastifyInstance, ctx: ServerContext, steps: BrowserSteps): void {
  const authorize = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const { request: authorization, next } = await authorizationEndpoint(ctx, steps.paramsOf(request), await steps.currentSession(request));
      return steps.sendNext(reply, authorization, next);
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  };
  app.get(PATHS.authorization, authorize);
  app.post(PATHS.authorization, authorize);
}

/** The login form (http/login-form.ts), carrying the authorization request. */
function registerLoginRoutes(app: FastifyInstance, ctx: ServerContext, steps: BrowserSteps): void {
  const loginForm = new LoginForm(ctx, steps.assetsPath);
  const loginFormPage = (authorization: AuthorizationRequest) => ({
    action: `${ctx.urls.pathPrefix}${PATHS.login}`,
    // An application that registered itself chose its own name: the login page names it by where it
    // sends the browser back, as the consent page does (docs/security.md L77).
    clientName: authorization.client.source === 'operator' ? authorization.client.name : redirectHost(authorization.redirectUri),
    carried: authorization.params,
    username: authorization.loginHint,
    uiLocales: authorization.uiLocales,
    passkeyAction: `${ctx.urls.pathPrefix}${PATHS.loginPasskey}`,
    upstreamPath: `${ctx.urls.pathPrefix}${PATHS.login}/upstream`,
  });

  app.get(PATHS.login, async (request, reply) => {
    try {
      const authorization = await readAuthorizationRequest(ctx, steps.paramsOf(request), 'page');
      return loginForm.show(request, reply, loginFormPage(authorization));
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  app.post(PATHS.login, async (request, reply) => {
    try {
      const params = steps.paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params, 'page');
      return await toClientIfUnavailable(authorization, async () => {
        const login = await loginForm.submit(request, reply, params, loginFormPage(authorization));
        if (!login.ok) return login.reply;
        // The user has an authenticator app: the code comes before anything else (http/otp-form.ts).
        if (login.secondFactorDue) return steps.redirect(reply, steps.pageUrl(PATHS.loginOtp, authorization));
        const next = await decideNextStep(ctx, authorization, login.session, true);
        return steps.sendNext(reply, authorization, next, loginProof(ctx.macKey, login.value, authorization.params));
      });
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });


  // "Sign in with a passkey" on the login form: a whole sign-in, no password (http/login-form.ts).
  app.post(PATHS.loginPasskey, async (request, reply) => {
    try {
      const params = steps.paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params, 'page');
      return await toClientIfUnavailable(authorization, async () => {
        const login = await loginForm.submitPasskey(request, reply, params, loginFormPage(authorization));
        if (!login.ok) return login.reply;
        const next = await decideNextStep(ctx, authorization, login.session, true);
        return steps.sendNext(reply, authorization, next, loginProof(ctx.macKey, login.value, authorization.params));
      });
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  // The second step (http/otp-form.ts), carrying the authorization request like the login form.
  const otpForm = new OtpForm(ctx, steps.assetsPath);
  const otpFormPage = (authorization: AuthorizationRequest) => ({
    action: `${ctx.urls.pathPrefix}${PATHS.loginOtp}`,
    carried: authorization.params,
    passkeyAction: `${ctx.urls.pathPrefix}${PATHS.loginOtp}/passkey`,
    uiLocales: authorization.uiLocales,
  });

  app.post(`${PATHS.loginOtp}/passkey`, async (request, reply) => {
    try {
      const params = steps.paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params, 'page');
      return await toClientIfUnavailable(authorization, async () => {
        const step = await otpForm.submitPasskey(request, reply, params, otpFormPage(authorization));
        if (!step.ok) return step.reason === 'refused' ? step.reply : steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
        const next = await decideNextStep(ctx, authorization, step.session, true);
        return steps.sendNext(reply, authorization, next, loginProof(ctx.macKey, step.value, authorization.params));
      });
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  app.get(PATHS.loginOtp, async (request, reply) => {
    try {
      const authorization = await readAuthorizationRequest(ctx, steps.paramsOf(request), 'page');
      const current = await otpForm.partial(request);
      if (!current) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
      return await otpForm.show(reply, current, otpFormPage(authorization));
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  app.post(PATHS.loginOtp, async (request, reply) => {
    try {
      const params = steps.paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params, 'page');
      return await toClientIfUnavailable(authorization, async () => {
        const otp = await otpForm.submit(request, reply, params, otpFormPage(authorization));
        if (!otp.ok) return otp.reason === 'refused' ? otp.reply : steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
        // The sign-in is complete now: it counts as the fresh login prompt=login and max_age asked for.
        const next = await decideNextStep(ctx, authorization, otp.session, true);
        return steps.sendNext(reply, authorization, next, loginProof(ctx.macKey, otp.value, authorization.params));
      });
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  // acr_values asked for two factors and the user has a password only (authorize/decide.ts): they set
  // up an authenticator app here, as on the account page; its first code completes the sign-in with two
  // factors, the recovery codes are shown once, and the authorization goes on.
  const setupBinding = (value: string) => `otp-setup:${value}`;
  const setupPage = async (reply: FastifyReply, authorization: AuthorizationRequest, current: { session: Session; value: string }, status = 200, error?: string) => {
    const user = await ctx.storage.users.findById(current.session.userId);
    if (!user) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
    const enrolment = (await pendingTotpEnrolment(ctx, user)) ?? (await beginTotpEnrolment(ctx, user));
    if (!enrolment) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
    const t = pageTranslator(reply.request, authorization.uiLocales);
    return sendPage(
      reply,
      status,
      totpSetupPage({
        t,
        assetsPath: steps.assetsPath,
        action: `${ctx.urls.pathPrefix}${PATHS.loginOtpSetup}`,
        csrfToken: csrfToken(ctx.macKey, setupBinding(current.value)),
        carried: authorization.params,
        reason: t.t('otp.setup.reason', { client: loginFormPage(authorization).clientName }),
        qrSvg: enrolment.qrSvg,
        secret: enrolment.secret,
        ...(error !== undefined ? { error } : {}),
      }),
    );
  };
  const fullSession = async (request: FastifyRequest) => {
    const value = steps.sessionValue(request);
    const session = await steps.currentSession(request);
    return session && value ? { session, value } : undefined;
  };

  app.get(PATHS.loginOtpSetup, async (request, reply) => {
    try {
      const authorization = await readAuthorizationRequest(ctx, steps.paramsOf(request), 'page');
      const current = await fullSession(request);
      if (!current) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
      return await setupPage(reply, authorization, current);
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  app.post(PATHS.loginOtpSetup, async (request, reply) => {
    try {
      const params = steps.paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params, 'page');
      return await toClientIfUnavailable(authorization, async () => {
        const t = pageTranslator(request, authorization.uiLocales);
        const current = await fullSession(request);
        if (!current) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
        if (!verifyCsrfToken(ctx.macKey, setupBinding(current.value), optionalParam(params, 'csrf_token'))) {
          return setupPage(reply, authorization, current, 403, t.t('otp.setup.formExpired'));
        }
        const user = await ctx.storage.users.findById(current.session.userId);
        if (!user) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
        const check = await checkTotpCode(ctx, user, optionalParam(params, 'code') ?? '', true);
        if (!check.ok) {
          if (check.reason === 'rate_limited') reply.header('retry-after', String(check.retryAfterSeconds));
          const error =
            check.reason === 'rate_limited'
              ? t.t('otp.tooManyWait', { wait: waitText(t, check.retryAfterSeconds) })
              : check.reason === 'locked'
                ? t.t('otp.tooMany')
                : check.reason === 'unreadable'
                  ? t.t('otp.unreadable')
                  : t.t('otp.setup.wrongCode');
          return setupPage(reply, authorization, current, check.reason === 'invalid_code' ? 400 : check.reason === 'unreadable' ? 503 : 429, error);
        }
        // Both factors shown: a new session (new cookie: no fixation) with amr pwd, otp, mfa.
        await ctx.storage.sessions.delete(sha256(current.value));
        const { value } = await startSession(ctx.storage, user.id, withOtp(current.session.amr), ctx.now(), sessionOrigin(request), undefined, current.session.sid);
        reply.header('set-cookie', sessionCookieHeader(value, ctx.urls.secure, SESSION_ABSOLUTE_SECONDS));
        request.log.info({ user: user.id }, 'authenticator app turned on during a sign-in');
        const codes = await issueRecoveryCodes(ctx, user.id);
        // The link goes on with the authorization; the proof says this sign-in is fresh (prompt=login, max_age).
        const next = steps.pageUrl(`${PATHS.loginOtpSetup}/done`, authorization, { login_proof: loginProof(ctx.macKey, value, authorization.params) });
        return sendPage(reply, 200, recoveryCodesPage(t, steps.assetsPath, codes, next, t.t('otp.setup.savedContinue')));
      });
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  app.get(`${PATHS.loginOtpSetup}/done`, async (request, reply) => {
    try {
      const params = steps.paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params, 'page');
      const current = await fullSession(request);
      if (!current) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
      const proof = optionalParam(params, 'login_proof');
      const fresh = verifyLoginProof(ctx.macKey, current.value, authorization.params, proof);
      const next = await decideNextStep(ctx, authorization, current.session, fresh);
      return steps.sendNext(reply, authorization, next, fresh ? proof : undefined);
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });
}

/** The consent form. Its CSRF token is bound to the session. */
function registerConsentRoutes(app: FastifyInstance, ctx: ServerContext, steps: BrowserSteps): void {
  const consentBinding = (sessionValue: string) => `consent:${sessionValue}`;

  app.get(PATHS.consent, async (request, reply) => {
    try {
      const params = steps.paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params, 'page');
      const current = await steps.consentSession(request, authorization, params);
      if (!current) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
      // The consent page is no way around the second factor or passkey the request or the policy wants.
      const due = await authenticationDue(ctx, authorization, current.session);
      if (due) return steps.sendNext(reply, authorization, { step: due });
      const user = await ctx.storage.users.findById(current.session.userId);
      const { client } = authorization;
      const t = pageTranslator(request, authorization.uiLocales);
      return sendPage(
        reply,
        200,
        consentPage({
          t,
          assetsPath: steps.assetsPath,
          action: `${ctx.urls.pathPrefix}${PATHS.consent}`,
          clientName: client.name,
          username: user?.name ?? user?.username ?? '',
          csrfToken: csrfToken(ctx.macKey, consentBinding(current.sessionValue)),
          carried: current.proof ? { ...authorization.params, login_proof: current.proof } : authorization.params,
          scopes: await describeScopes(ctx, authorization.scope, t),
          apis: await describeApis(ctx, client, authorization.scope, authorization.resources),
          // The MCP authorization specification asks that the consent page of a client that registered
          // itself show where the browser goes back to; docs/security.md L77.
          // A metadata-document client's id is a URL: its host, who publishes the description, is shown
          // too (draft-ietf-oauth-client-id-metadata-document, security considerations: the user should
          // see the client_id's host, which the client cannot choose as freely as its name).
          ...(client.source !== 'operator'
            ? {
                unverified: {
                  redirectHost: redirectHost(authorization.redirectUri),
                  ...(client.source === 'metadata-document' && URL.canParse(client.clientId) ? { describedBy: new URL(client.clientId).host } : {}),
                },
              }
            : {}),
        }),
      );
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  /** The consent form's answer, for a validated request. */
  const consentStep = async (request: FastifyRequest, reply: FastifyReply, authorization: AuthorizationRequest, params: FormParams) => {
    const current = await steps.consentSession(request, authorization, params);
    if (!current) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
    const due = await authenticationDue(ctx, authorization, current.session);
    if (due) return steps.sendNext(reply, authorization, { step: due });
    const { session, sessionValue } = current;
    if (!verifyCsrfToken(ctx.macKey, consentBinding(sessionValue), optionalParam(params, 'csrf_token'))) {
      // A forged or stale form: show the consent page again rather than act on it.
      return steps.redirect(reply, steps.pageUrl(PATHS.consent, authorization, current.proof ? { login_proof: current.proof } : {}));
    }
    const decision = optionalParam(params, 'decision');
    if (decision === 'allow') return steps.redirect(reply, await consentGiven(ctx, authorization, session));
    if (decision === 'deny') {
      // RFC 6749 §4.1.2.1 access_denied (docs/security.md A14).
      const error = new AccessDenied('the user denied the request');
      return steps.redirect(reply, authorizationResponseUrl(authorization.redirectUri, ctx.settings.issuer, authorization.state, { error }));
    }
    throw new AuthorizationPageError('error.invalid.title', 'error.invalid.noDecision');
  };

  app.post(PATHS.consent, async (request, reply) => {
    try {
      const params = steps.paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params, 'page');
      return await toClientIfUnavailable(authorization, () => consentStep(request, reply, authorization, params));
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

}
