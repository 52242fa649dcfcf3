import type { FastifyInstance } from 'fastify';
import { readAuthorizationRequest } from '../authorize/authorization-request.ts';
import { decideNextStep } from '../authorize/decide.ts';
import { PATHS } from '../config/paths.ts';
import type { ServerContext } from '../context.ts';
import { accountFor } from '../federation/accounts.ts';
import { findProvider, publicJwks } from '../federation/providers.ts';
import { finishUpstreamLogin, startUpstreamLogin, UPSTREAM_LOGIN_SECONDS, UpstreamLoginError } from '../federation/upstream-login.ts';
import { cookieHeader, readCookie } from '../lib/cookies.ts';
import { FormParams } from '../lib/form-params.ts';
import { sha256 } from '../lib/random.ts';
import { loginProof } from '../ui/csrf.ts';
import { errorPage } from '../ui/pages.ts';
import { SESSION_ABSOLUTE_SECONDS, secondFactorDue, sessionCookieHeader, sessionCookieName, sessionOrigin, startSession } from '../users/sessions.ts';
import type { BrowserSteps } from './browser-routes.ts';
import { pageTranslator, sendPage } from './page-reply.ts';
import type { Translator } from '../i18n/translator.ts';

/**
 * "Sign in with <provider>" on the login page of an authorization (federation/upstream-login.ts): the
 * button leads to `/login/upstream/{id}` with the authorization request, which sends the browser to the
 * provider; the provider sends it back to `/login/upstream/callback`, where the upstream account's local
 * user (federation/accounts.ts) is signed in with a new session (amr `fed`), and the authorization goes
 * on as after the login form: the user's own second factor if they have one, consent, the code.
 */
export function registerFederationRoutes(app: FastifyInstance, ctx: ServerContext, steps: BrowserSteps): void {
  const cookie = ctx.urls.secure ? '__Host-latchkey_upstream' : 'latchkey_upstream';
  const sessionCookie = sessionCookieName(ctx.urls.secure);
  const failed = (t: Translator, title: string, text: string) => errorPage(t, steps.assetsPath, title, text);

  app.get(`${PATHS.login}/upstream/:provider`, async (request, reply) => {
    try {
      const authorization = await readAuthorizationRequest(ctx, steps.paramsOf(request), 'page');
      const t = pageTranslator(request, authorization.uiLocales);
      const provider = await findProvider(ctx, (request.params as { provider: string }).provider);
      if (!provider) return sendPage(reply, 404, failed(t, t.t('federation.unknown.title'), t.t('federation.unknown.text')));
      try {
        const started = await startUpstreamLogin(ctx, provider, authorization.params);
        // SameSite=Lax: the provider's redirect back is a top-level GET from its site, which carries it.
        reply.header('set-cookie', cookieHeader(cookie, started.cookie, ctx.urls.secure, UPSTREAM_LOGIN_SECONDS));
        return steps.redirect(reply, started.url);
      } catch (err) {
        if (!(err instanceof UpstreamLoginError)) throw err;
        request.log.warn({ provider: provider.id, reason: err.message }, 'upstream provider unavailable');
        const named = { provider: provider.displayName };
        return sendPage(reply, 503, failed(t, t.t('federation.unavailable.title', named), t.t('federation.unavailable.text', named)));
      }
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  // Latchkey's public key for a provider that authenticates it by private_key_jwt (RFC 7523): its jwks_uri.
  app.get(`${PATHS.login}/upstream/:provider/jwks`, async (request, reply) => {
    const provider = await findProvider(ctx, (request.params as { provider: string }).provider);
    if (!provider?.privateJwk) return reply.code(404).header('cache-control', 'no-store').send({ error: 'not_found' });
    return reply.header('cache-control', 'public, max-age=300').type('application/json').send(publicJwks(provider));
  });

  app.get(`${PATHS.login}/upstream/callback`, async (request, reply) => {
    const current = new URL(request.url, ctx.settings.issuer);
    let identity;
    try {
      identity = await finishUpstreamLogin(ctx, readCookie(request.headers.cookie, cookie), current, (id) => findProvider(ctx, id));
    } catch (err) {
      if (!(err instanceof UpstreamLoginError)) return steps.fail(request, reply, err);
      request.log.info({ reason: err.message }, 'upstream sign-in refused');
      reply.header('set-cookie', cookieHeader(cookie, '', ctx.urls.secure, 0));
      const t = pageTranslator(request);
      return sendPage(reply, 400, failed(t, t.t('federation.failed.title'), t.t('federation.failed.text')));
    }
    try {
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(identity.params)) for (const v of typeof value === 'string' ? [value] : value) query.append(name, v);
      const authorization = await readAuthorizationRequest(ctx, new FormParams(query.toString()), 'page');
      const account = await accountFor(ctx, identity);
      if (!account.ok) {
        request.log.info({ provider: identity.provider.id, reason: account.reason }, 'upstream sign-in without a local account');
        const t = pageTranslator(request, authorization.uiLocales);
        return account.reason === 'disabled'
          ? sendPage(reply, 403, failed(t, t.t('federation.disabled.title'), t.t('federation.disabled.text')))
          : sendPage(reply, 403, failed(t, t.t('federation.noAccount.title'), t.t('federation.noAccount.text', { provider: identity.provider.displayName })));
      }
      request.log.info({ user: account.user.id, provider: identity.provider.id, created: account.created, linked: account.linked }, 'signed in with an upstream provider');
      // A new session (no fixation); any previous one of this browser ends.
      const previous = readCookie(request.headers.cookie, sessionCookie);
      if (previous) await ctx.storage.sessions.delete(sha256(previous));
      const { value, session } = await startSession(ctx.storage, account.user.id, ['fed'], ctx.now(), sessionOrigin(request));
      reply.header('set-cookie', [sessionCookieHeader(value, ctx.urls.secure, SESSION_ABSOLUTE_SECONDS), cookieHeader(cookie, '', ctx.urls.secure, 0)]);
      if (await secondFactorDue(ctx.storage, session)) return steps.redirect(reply, steps.pageUrl(PATHS.loginOtp, authorization));
      const next = await decideNextStep(ctx, authorization, session, true);
      return steps.sendNext(reply, authorization, next, loginProof(ctx.macKey, value, authorization.params));
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });
}
