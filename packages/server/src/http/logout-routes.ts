import { createLocalJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { CLOCK_TOLERANCE_SECONDS } from '../config/defaults.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { PATHS } from '../config/paths.ts';
import { sha256 } from '../lib/random.ts';
import type { Client } from '../registry/types.ts';
import { csrfToken, verifyCsrfToken } from '../ui/csrf.ts';
import { errorPage, loggedOutPage, logoutConfirmPage } from '../ui/pages.ts';
import { resumeSession, SESSION_ABSOLUTE_SECONDS, sessionCookieHeader, sessionCookieName } from '../users/sessions.ts';
import { readCookie } from '../lib/cookies.ts';
import { endSessions } from '../logout/end-sessions.ts';
import { optionalParam, pageParams, pageTranslator, sendPage } from './page-reply.ts';

/**
 * How long after its `exp` an ID token is still accepted as a logout hint. RP-Initiated Logout 1.0 §2:
 * the OP "SHOULD accept ID Tokens when the RP identified by the ID Token's aud claim and/or sid claim
 * has a current session or had a recent session at the OP, even when the exp time has passed". No SSO
 * session outlives its absolute lifetime, so a hint expired longer ago than that names none: refused.
 */
export const LOGOUT_HINT_MAX_EXPIRED_SECONDS = SESSION_ABSOLUTE_SECONDS;

/**
 * OpenID Connect RP-Initiated Logout 1.0: `/logout` ends the SSO session and, when the client names a
 * `post_logout_redirect_uri` it registered, sends the browser back there with `state`. With a valid
 * `id_token_hint` for the session's user the logout happens at once; otherwise the user confirms it
 * on a page (a CSRF-protected form), so no other site can log the user out.
 */
export function registerLogoutRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { secure, pathPrefix: issuerPath } = ctx.urls;
  const sessionCookie = sessionCookieName(secure);
  const assetsPath = `${issuerPath}/assets`;
  const page = sendPage;

  const logout = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = pageParams(request);
    // RP-Initiated Logout §2 ui_locales: "End-User's preferred languages and scripts for the user
    // interface" (i18n/languages.ts).
    const t = pageTranslator(request, params ? optionalParam(params, 'ui_locales') : undefined);
    if (!params) return page(reply, 400, errorPage(t, assetsPath, t.t('error.invalid.title'), t.t('logout.invalid.unreadable')));
    const idTokenHint = optionalParam(params, 'id_token_hint');
    const requestedRedirect = optionalParam(params, 'post_logout_redirect_uri');
    const state = optionalParam(params, 'state');
    const hint = idTokenHint ? await verifyHint(ctx, idTokenHint) : undefined;
    if (idTokenHint && !hint) {
      return page(reply, 400, errorPage(t, assetsPath, t.t('logout.invalid.title'), t.t('logout.invalid.idToken')));
    }
    const clientId = optionalParam(params, 'client_id') ?? hint?.clientId;
    if (hint && clientId !== hint.clientId) {
      return page(reply, 400, errorPage(t, assetsPath, t.t('logout.invalid.title'), t.t('logout.invalid.clientId')));
    }
    let client: Client | undefined;
    if (clientId) client = await ctx.storage.clients.find(clientId);
    let target: string | undefined;
    if (requestedRedirect !== undefined) {
      // RP-Initiated Logout §3: the URI must exactly match one the client registered.
      if (!client || !client.postLogoutRedirectUris.includes(requestedRedirect)) {
        return page(reply, 400, errorPage(t, assetsPath, t.t('logout.invalid.title'), t.t('logout.invalid.redirect')));
      }
      // RP-Initiated Logout §3: without an id_token_hint "the OP MUST NOT perform post-logout
      // redirection unless the OP has other means of confirming the legitimacy of the post-logout
      // redirection target". An operator registered the URI of its own clients; anyone may register a
      // client for themselves, so theirs is followed only with the hint (the user is signed out anyway).
      if (hint || client.source === 'operator') {
        const url = new URL(requestedRedirect);
        if (state !== undefined) url.searchParams.append('state', state);
        target = url.toString();
      }
    }

    const sessionValue = readCookie(request.headers.cookie, sessionCookie);
    const now = ctx.now();
    const session = await resumeSession(ctx.storage, sessionValue, now);
    const confirmed =
      (hint !== undefined && (!session || session.userId === hint.sub)) ||
      (request.method === 'POST' && sessionValue !== undefined && verifyCsrfToken(ctx.macKey, `logout:${sessionValue}`, optionalParam(params, 'csrf_token')));
    if (session && sessionValue && !confirmed) {
      const carried: Record<string, string> = {};
      for (const name of ['post_logout_redirect_uri', 'state', 'client_id', 'ui_locales']) {
        const value = optionalParam(params, name);
        if (value !== undefined) carried[name] = value;
      }
      if (clientId) carried.client_id = clientId;
      return page(
        reply,
        200,
        logoutConfirmPage({
          t,
          assetsPath,
          action: `${issuerPath}${PATHS.endSession}`,
          csrfToken: csrfToken(ctx.macKey, `logout:${sessionValue}`),
          carried,
          clientName: client?.name,
        }),
      );
    }
    if (sessionValue) {
      // Back-Channel Logout §2.5: every client the session issued tokens to is told (logout/end-sessions.ts).
      const ended = await ctx.storage.sessions.find(sha256(sessionValue));
      if (ended) {
        await endSessions(ctx.storage, [ended], now, ctx.logger);
        ctx.backchannelLogout.kick();
      }
    }
    reply.header('set-cookie', sessionCookieHeader('', secure, 0));
    if (target) return reply.header('cache-control', 'no-store').redirect(target, 303);
    return page(reply, 200, loggedOutPage(t, assetsPath));
  };

  app.get(PATHS.endSession, logout);
  app.post(PATHS.endSession, logout);
}

/**
 * An ID token this server signed: its subject and client. Expired up to LOGOUT_HINT_MAX_EXPIRED_SECONDS
 * ago is accepted; an `nbf` in the future is not (RFC 7519 §4.1.5, with the usual clock tolerance).
 */
async function verifyHint(ctx: ServerContext, token: string): Promise<{ sub: string; clientId: string } | undefined> {
  if (token.length > 8192) return undefined;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet(await ctx.keys.jwks()), {
      issuer: ctx.settings.issuer,
      algorithms: ['RS256', 'ES256'],
      typ: 'JWT',
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }));
  } catch (err) {
    // jose checks the signature first and the times last: an expired token reaching here is ours and
    // valid in every other respect.
    if (!(err instanceof errors.JWTExpired) || typeof err.payload.exp !== 'number') return undefined;
    if (ctx.now() - err.payload.exp > LOGOUT_HINT_MAX_EXPIRED_SECONDS) return undefined;
    payload = err.payload;
  }
  if (typeof payload.sub !== 'string' || typeof payload.aud !== 'string') return undefined;
  return { sub: payload.sub, clientId: payload.aud };
}
