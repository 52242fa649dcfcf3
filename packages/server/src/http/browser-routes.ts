import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AuthorizationPageError,
  AuthorizationRedirectError,
  readAuthorizationRequest,
  type AuthorizationRequest,
} from '../authorize/authorization-request.ts';
import { authorizationResponseUrl, toClientIfUnavailable } from '../authorize/authorization-response.ts';
import { consentGiven, decideNextStep, needsFreshLogin, type NextStep } from '../authorize/decide.ts';
import type { ServerContext } from '../context.ts';
import { PATHS } from '../config/paths.ts';
import { AccessDenied } from '../errors.ts';
import { authorizationEndpoint } from '../endpoints/authorize.ts';
import type { Session } from '../storage/session-store.ts';
import { csrfToken, loginProof, verifyCsrfToken, verifyLoginProof } from '../ui/csrf.ts';
import { consentPage, errorPage } from '../ui/pages.ts';
import { describeScopes } from '../ui/scope-descriptions.ts';
import { STYLESHEET } from '../ui/stylesheet.ts';
import { resumeSession, sessionCookieName } from '../users/sessions.ts';
import { readCookie } from '../lib/cookies.ts';
import { LoginForm } from './login-form.ts';
import type { FormParams } from '../lib/form-params.ts';
import { optionalParam, pageParams, sendErrorPage, sendPage } from './page-reply.ts';


/**
 * The pages a person sees: the authorization endpoint (GET and POST, OIDC Core §3.1.2.1), the login
 * and consent forms, and their stylesheet. State between them travels in the pages' hidden fields and
 * is validated again at every step, so any node can serve any step.
 */
export function registerBrowserRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { secure, pathPrefix: issuerPath } = ctx.urls;
  const sessionCookie = sessionCookieName(secure);
  const assetsPath = `${issuerPath}/assets`;

  const page = sendPage;

  // RFC 9700 §4.12: after a POST carrying credentials, redirect with 303 so the browser does not
  // send the form again to the next location (docs/security.md A11). 303 is used for every redirect here.
  const redirect = (reply: FastifyReply, location: string) => reply.header('cache-control', 'no-store').redirect(location, 303);

  const pageUrl = (path: string, request: AuthorizationRequest, extra: Record<string, string> = {}) =>
    `${issuerPath}${path}?${new URLSearchParams({ ...request.params, ...extra }).toString()}`;

  const sendNext = (reply: FastifyReply, request: AuthorizationRequest, next: NextStep, proof?: string) => {
    if (next.step === 'login') return redirect(reply, pageUrl(PATHS.login, request));
    if (next.step === 'consent') return redirect(reply, pageUrl(PATHS.consent, request, proof ? { login_proof: proof } : {}));
    return redirect(reply, next.location);
  };

  /**
   * The consent steps with a session: undefined when a fresh login is still owed (prompt=login,
   * max_age) and not proven by the login form of this request.
   */
  const consentSession = async (request: FastifyRequest, authorization: AuthorizationRequest, params: FormParams) => {
    const sessionValue = readCookie(request.headers.cookie, sessionCookie);
    const session = await resumeSession(ctx.storage, sessionValue, ctx.now());
    if (!session || !sessionValue) return undefined;
    const proof = optionalParam(params, 'login_proof');
    if (needsFreshLogin(authorization, session, ctx.now()) && !verifyLoginProof(ctx.macKey, sessionValue, authorization.params, proof)) {
      return undefined;
    }
    return { session, sessionValue, proof };
  };

  /**
   * Errors of any step: a page when the client cannot be trusted, else back to the client (a database
   * that fails once the request is validated too: authorize/authorization-response.ts); anything else,
   * a 503 or 500 page.
   */
  const fail = (request: FastifyRequest, reply: FastifyReply, err: unknown) => {
    if (err instanceof AuthorizationPageError) {
      request.log.info({ reason: err.explanation }, 'authorization request refused with an error page');
      return page(reply, err.status, errorPage(assetsPath, err.title, err.explanation));
    }
    if (err instanceof AuthorizationRedirectError) {
      request.log.info({ error: err.oauth.error, detail: err.oauth.detail ?? err.oauth.description }, 'authorization request refused');
      return redirect(
        reply,
        authorizationResponseUrl(err.target.redirectUri, ctx.settings.issuer, err.target.state, { error: err.oauth }),
      );
    }
    return sendErrorPage(request, reply, err, assetsPath);
  };

  const paramsOf = (request: FastifyRequest): FormParams => {
    const params = pageParams(request);
    if (!params) throw new AuthorizationPageError('Invalid request', 'The form could not be read.');
    return params;
  };

  const currentSession = (request: FastifyRequest): Promise<Session | undefined> =>
    resumeSession(ctx.storage, readCookie(request.headers.cookie, sessionCookie), ctx.now());

  const clientName = (request: AuthorizationRequest) => request.client.name;

  // The authorization endpoint.
  const authorize = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const { request: authorization, next } = await authorizationEndpoint(ctx, paramsOf(request), await currentSession(request));
      return sendNext(reply, authorization, next);
    } catch (err) {
      return fail(request, reply, err);
    }
  };
  app.get(PATHS.authorization, authorize);
  app.post(PATHS.authorization, authorize);

  // The login form (http/login-form.ts), carrying the authorization request.
  const loginForm = new LoginForm(ctx, assetsPath);
  const loginFormPage = (authorization: AuthorizationRequest) => ({
    action: `${issuerPath}${PATHS.login}`,
    clientName: clientName(authorization),
    carried: authorization.params,
    username: authorization.loginHint,
  });

  app.get(PATHS.login, async (request, reply) => {
    try {
      const authorization = await readAuthorizationRequest(ctx, paramsOf(request));
      return loginForm.show(request, reply, loginFormPage(authorization));
    } catch (err) {
      return fail(request, reply, err);
    }
  });

  app.post(PATHS.login, async (request, reply) => {
    try {
      const params = paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params);
      return await toClientIfUnavailable(authorization, async () => {
        const login = await loginForm.submit(request, reply, params, loginFormPage(authorization));
        if (!login.ok) return login.reply;
        const next = await decideNextStep(ctx, authorization, login.session, true);
        return sendNext(reply, authorization, next, loginProof(ctx.macKey, login.value, authorization.params));
      });
    } catch (err) {
      return fail(request, reply, err);
    }
  });

  // The consent form. Its CSRF token is bound to the session.
  const consentBinding = (sessionValue: string) => `consent:${sessionValue}`;

  app.get(PATHS.consent, async (request, reply) => {
    try {
      const params = paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params);
      const current = await consentSession(request, authorization, params);
      if (!current) return redirect(reply, pageUrl(PATHS.login, authorization));
      const user = await ctx.storage.users.findById(current.session.userId);
      return page(
        reply,
        200,
        consentPage({
          assetsPath,
          action: `${issuerPath}${PATHS.consent}`,
          clientName: clientName(authorization),
          username: user?.name ?? user?.username ?? '',
          csrfToken: csrfToken(ctx.macKey, consentBinding(current.sessionValue)),
          carried: current.proof ? { ...authorization.params, login_proof: current.proof } : authorization.params,
          scopes: await describeScopes(ctx, authorization.scope),
        }),
      );
    } catch (err) {
      return fail(request, reply, err);
    }
  });

  /** The consent form's answer, for a validated request. */
  const consentStep = async (request: FastifyRequest, reply: FastifyReply, authorization: AuthorizationRequest, params: FormParams) => {
    const current = await consentSession(request, authorization, params);
    if (!current) return redirect(reply, pageUrl(PATHS.login, authorization));
    const { session, sessionValue } = current;
    if (!verifyCsrfToken(ctx.macKey, consentBinding(sessionValue), optionalParam(params, 'csrf_token'))) {
      // A forged or stale form: show the consent page again rather than act on it.
      return redirect(reply, pageUrl(PATHS.consent, authorization, current.proof ? { login_proof: current.proof } : {}));
    }
    const decision = optionalParam(params, 'decision');
    if (decision === 'allow') return redirect(reply, await consentGiven(ctx, authorization, session));
    if (decision === 'deny') {
      // RFC 6749 §4.1.2.1 access_denied (docs/security.md A14).
      const error = new AccessDenied('the user denied the request');
      return redirect(reply, authorizationResponseUrl(authorization.redirectUri, ctx.settings.issuer, authorization.state, { error }));
    }
    throw new AuthorizationPageError('Invalid request', 'The form did not say whether to allow or deny.');
  };

  app.post(PATHS.consent, async (request, reply) => {
    try {
      const params = paramsOf(request);
      const authorization = await readAuthorizationRequest(ctx, params);
      return await toClientIfUnavailable(authorization, () => consentStep(request, reply, authorization, params));
    } catch (err) {
      return fail(request, reply, err);
    }
  });

  app.get('/assets/latchkey.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
  );
}

