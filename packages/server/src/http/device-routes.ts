import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { formatUserCode, normalizeUserCode, userCodeHash } from '../device/user-code.ts';
import { PATHS } from '../endpoints/paths.ts';
import { randomId128, randomToken, sha256 } from '../lib/random.ts';
import type { DeviceCode } from '../storage/device-code-store.ts';
import { csrfToken, verifyCsrfToken } from '../ui/csrf.ts';
import { deviceConfirmPage, deviceDonePage, deviceEntryPage } from '../ui/device-pages.ts';
import { errorPage, loginPage } from '../ui/pages.ts';
import { describeScopes } from '../ui/scope-descriptions.ts';
import { authenticateUser } from '../users/authenticate-user.ts';
import { resumeSession, SESSION_ABSOLUTE_SECONDS, sessionCookieHeader, sessionCookieName, startSession } from '../users/sessions.ts';
import { cookieHeader, readCookie } from './cookies.ts';
import { optionalParam, pageParams, sendPage } from './page-reply.ts';

/**
 * RFC 8628 §5.1: wrong user codes are limited per session and per address, so the 34.5 bits of a
 * code cannot be searched: 10 per session and 30 per address in 15 minutes.
 */
const CODE_WINDOW_SECONDS = 15 * 60;
const MAX_WRONG_CODES_PER_SESSION = 10;
const MAX_WRONG_CODES_PER_ADDRESS = 30;
const LOGIN_BINDING_SECONDS = 30 * 60;

/**
 * The verification page of the device flow (RFC 8628 §3.3): the user logs in (the same SSO session
 * as the browser flow), types the code shown on the device (or arrives with it from
 * verification_uri_complete), sees which application and scopes ask, and allows or denies. Every form
 * carries a CSRF token; a denial is final.
 */
export function registerDeviceRoutes(app: FastifyInstance, ctx: ServerContext, issuerPath: string): void {
  const secure = new URL(ctx.settings.issuer).protocol === 'https:';
  const sessionCookie = sessionCookieName(secure);
  const loginCookie = secure ? '__Host-latchkey_login' : 'latchkey_login';
  const assetsPath = `${issuerPath}/assets`;
  const devicePath = `${issuerPath}${PATHS.device}`;
  const now = () => Math.floor(Date.now() / 1000);

  const showLogin = (reply: FastifyReply, binding: string | undefined, userCode: string | undefined, status: number, error?: string, username?: string) => {
    let value = binding;
    if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
      value = randomToken(32);
      reply.header('set-cookie', cookieHeader(loginCookie, value, secure, LOGIN_BINDING_SECONDS));
    }
    return sendPage(
      reply,
      status,
      loginPage({
        assetsPath,
        action: `${devicePath}/login`,
        clientName: 'device sign-in',
        csrfToken: csrfToken(ctx.csrfKey, `login:${value}`),
        carried: userCode ? { user_code: userCode } : {},
        ...(username !== undefined ? { username } : {}),
        ...(error !== undefined ? { error } : {}),
      }),
    );
  };

  const session = async (request: FastifyRequest) => {
    const value = readCookie(request.headers.cookie, sessionCookie);
    const found = await resumeSession(ctx.storage, value, now());
    return found && value ? { session: found, value } : undefined;
  };

  const entry = async (reply: FastifyReply, current: { session: { userId: string }; value: string }, status: number, userCode?: string, error?: string) => {
    const user = await ctx.storage.users.findById(current.session.userId);
    return sendPage(
      reply,
      status,
      deviceEntryPage({
        assetsPath,
        action: devicePath,
        csrfToken: csrfToken(ctx.csrfKey, `device:${current.value}`),
        username: user?.name ?? user?.username ?? '',
        ...(userCode !== undefined ? { userCode } : {}),
        ...(error !== undefined ? { error } : {}),
      }),
    );
  };

  /** A pending, unexpired request for the code, counting a miss against the session and the address. */
  const lookUp = async (request: FastifyRequest, sessionIdHash: string, typed: string): Promise<DeviceCode | 'limited' | undefined> => {
    const t = now();
    const windowStart = t - (t % CODE_WINDOW_SECONDS);
    const keys = [`device:session:${sessionIdHash}`, `device:address:${request.ip}`];
    const [bySession, byAddress] = await Promise.all(keys.map((k) => ctx.storage.rateLimits.count(k, windowStart)));
    if (bySession! >= MAX_WRONG_CODES_PER_SESSION || byAddress! >= MAX_WRONG_CODES_PER_ADDRESS) return 'limited';
    const normalized = normalizeUserCode(typed);
    const code = normalized ? await ctx.storage.deviceCodes.findByUserCode(userCodeHash(normalized)) : undefined;
    if (!code || code.status !== 'pending' || code.expiresAt <= t) {
      await Promise.all(keys.map((k) => ctx.storage.rateLimits.hit(k, windowStart)));
      return undefined;
    }
    return code;
  };

  const confirm = async (reply: FastifyReply, current: { session: { userId: string }; value: string }, code: DeviceCode, typed: string) => {
    const client = await ctx.storage.clients.find(code.clientId);
    const user = await ctx.storage.users.findById(current.session.userId);
    return sendPage(
      reply,
      200,
      deviceConfirmPage({
        assetsPath,
        action: devicePath,
        csrfToken: csrfToken(ctx.csrfKey, `device:${current.value}`),
        userCode: formatUserCode(normalizeUserCode(typed)!),
        clientName: client?.name ?? code.clientId,
        username: user?.name ?? user?.username ?? '',
        scopes: await describeScopes(ctx, code.scope.split(' ')),
      }),
    );
  };

  const limitedMessage = 'Too many wrong codes. Wait a few minutes and try again.';
  const wrongMessage = 'That code is not valid. Check the code on your device; codes expire after 10 minutes.';

  app.get(devicePath, async (request, reply) => {
    const params = pageParams(request)!;
    const typed = optionalParam(params, 'user_code')?.slice(0, 32);
    const current = await session(request);
    if (!current) return showLogin(reply, readCookie(request.headers.cookie, loginCookie), typed, 200);
    if (!typed) return entry(reply, current, 200);
    // Arrived from verification_uri_complete: straight to the confirmation, where the code is shown.
    const code = await lookUp(request, current.session.idHash, typed);
    if (code === 'limited') return entry(reply, current, 429, typed, limitedMessage);
    if (!code) return entry(reply, current, 400, typed, wrongMessage);
    return confirm(reply, current, code, typed);
  });

  app.post(`${devicePath}/login`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return sendPage(reply, 400, errorPage(assetsPath, 'Invalid request', 'The form could not be read.'));
    const typed = optionalParam(params, 'user_code')?.slice(0, 32);
    const binding = readCookie(request.headers.cookie, loginCookie);
    if (!binding || !verifyCsrfToken(ctx.csrfKey, `login:${binding}`, optionalParam(params, 'csrf_token'))) {
      return showLogin(reply, undefined, typed, 403, 'The sign-in form expired. Please try again.');
    }
    const username = optionalParam(params, 'username') ?? '';
    const result = await authenticateUser(ctx.storage, { username, password: optionalParam(params, 'password') ?? '', address: request.ip });
    if (!result.ok) {
      if (result.reason === 'rate_limited') {
        reply.header('retry-after', String(result.retryAfterSeconds));
        return showLogin(reply, binding, typed, 429, 'Too many failed sign-in attempts. Try again later.', username);
      }
      return showLogin(reply, binding, typed, 401, result.reason === 'disabled' ? 'This account is disabled.' : 'Wrong username or password.', username);
    }
    const previous = readCookie(request.headers.cookie, sessionCookie);
    if (previous) await ctx.storage.sessions.delete(sha256(previous));
    const { value } = await startSession(ctx.storage, result.user.id, now());
    reply.header('set-cookie', [sessionCookieHeader(value, secure, SESSION_ABSOLUTE_SECONDS), cookieHeader(loginCookie, '', secure, 0)]);
    const next = typed ? `${devicePath}?user_code=${encodeURIComponent(typed)}` : devicePath;
    return reply.header('cache-control', 'no-store').redirect(next, 303);
  });

  app.post(devicePath, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return sendPage(reply, 400, errorPage(assetsPath, 'Invalid request', 'The form could not be read.'));
    const current = await session(request);
    const typed = optionalParam(params, 'user_code')?.slice(0, 32) ?? '';
    if (!current) return showLogin(reply, readCookie(request.headers.cookie, loginCookie), typed, 200);
    if (!verifyCsrfToken(ctx.csrfKey, `device:${current.value}`, optionalParam(params, 'csrf_token'))) {
      return entry(reply, current, 403, typed, 'The form expired. Please enter the code again.');
    }
    const code = await lookUp(request, current.session.idHash, typed);
    if (code === 'limited') return entry(reply, current, 429, typed, limitedMessage);
    if (!code) return entry(reply, current, 400, typed, wrongMessage);
    const decision = optionalParam(params, 'decision');
    if (decision === undefined) return confirm(reply, current, code, typed);
    const t = now();
    if (decision === 'allow') {
      const grantId = randomId128();
      await ctx.storage.grants.create({ id: grantId, clientId: code.clientId, userId: current.session.userId, scope: code.scope, createdAt: t, revokedAt: null });
      const decided = await ctx.storage.deviceCodes.decide(
        code.userCodeHash,
        { status: 'approved', userId: current.session.userId, authTime: current.session.authTime, grantId },
        t,
      );
      if (!decided) return entry(reply, current, 400, typed, wrongMessage);
      return sendPage(reply, 200, deviceDonePage(assetsPath, true));
    }
    if (decision === 'deny') {
      await ctx.storage.deviceCodes.decide(code.userCodeHash, { status: 'denied', userId: current.session.userId }, t);
      return sendPage(reply, 200, deviceDonePage(assetsPath, false));
    }
    return entry(reply, current, 400, typed, 'Choose Allow or Deny.');
  });
}
