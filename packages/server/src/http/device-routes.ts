import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { formatUserCode, normalizeUserCode } from '../device/user-code.ts';
import { decideDeviceCode, lookUpUserCode } from '../device/verification.ts';
import { PATHS } from '../config/paths.ts';
import type { DeviceCode } from '../storage/device-code-store.ts';
import { csrfToken, verifyCsrfToken } from '../ui/csrf.ts';
import { deviceConfirmPage, deviceDonePage, deviceEntryPage } from '../ui/device-pages.ts';
import { errorPage } from '../ui/pages.ts';
import { describeScopes } from '../ui/scope-descriptions.ts';
import { resumeSession, sessionCookieName } from '../users/sessions.ts';
import { readCookie } from '../lib/cookies.ts';
import { passkeyRequired, secondFactorRequired } from '../users/second-factor-policy.ts';
import { ACR, acrOf } from '../users/authentication-context.ts';
import { OtpForm, type OtpFormPage } from './otp-form.ts';
import { LoginForm, type LoginFormPage } from './login-form.ts';
import { optionalParam, pageParams, pageTranslator, sendPage } from './page-reply.ts';
import type { MessageKey } from '../i18n/catalogs.ts';

/**
 * The verification page of the device flow (RFC 8628 §3.3): the user logs in (the same SSO session
 * as the browser flow), types the code shown on the device (or arrives with it from
 * verification_uri_complete), sees which application and scopes ask, and allows or denies. Every form
 * carries a CSRF token; a denial is final.
 */
export function registerDeviceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { secure, pathPrefix: issuerPath } = ctx.urls;
  const sessionCookie = sessionCookieName(secure);
  const assetsPath = `${issuerPath}/assets`;
  const devicePath = `${issuerPath}${PATHS.device}`;
  const now = () => ctx.now();

  // The login form (http/login-form.ts), carrying the code the user came with.
  const loginForm = new LoginForm(ctx, assetsPath);
  const loginFormPage = (request: FastifyRequest, userCode: string | undefined): LoginFormPage => ({
    action: `${devicePath}/login`,
    clientName: pageTranslator(request).t('device.loginClient'),
    carried: userCode ? { user_code: userCode } : {},
    passkeyAction: `${devicePath}/login/passkey`,
  });

  // The second step for a user with an authenticator app (http/otp-form.ts), carrying the code too.
  const otpForm = new OtpForm(ctx, assetsPath);
  const otpFormPage = (userCode: string | undefined): OtpFormPage => ({
    action: `${devicePath}/otp`,
    carried: userCode ? { user_code: userCode } : {},
    passkeyAction: `${devicePath}/otp/passkey`,
  });
  const devicePage = (userCode: string | undefined) => (userCode ? `${devicePath}?user_code=${encodeURIComponent(userCode)}` : devicePath);

  /** Without a complete session: the code page when only the code is missing, else the login form. */
  const signIn = async (request: FastifyRequest, reply: FastifyReply, userCode: string | undefined) => {
    const partial = await otpForm.partial(request);
    if (partial) return otpForm.show(reply, partial, otpFormPage(userCode));
    return loginForm.show(request, reply, loginFormPage(request, userCode));
  };

  const session = async (request: FastifyRequest) => {
    const value = readCookie(request.headers.cookie, sessionCookie);
    const found = await resumeSession(ctx.storage, value, now());
    return found && value ? { session: found, value } : undefined;
  };

  const entry = async (
    request: FastifyRequest,
    reply: FastifyReply,
    current: { session: { userId: string }; value: string },
    status: number,
    userCode?: string,
    error?: MessageKey,
  ) => {
    const t = pageTranslator(request);
    const user = await ctx.storage.users.findById(current.session.userId);
    return sendPage(
      reply,
      status,
      deviceEntryPage({
        t,
        assetsPath,
        action: devicePath,
        csrfToken: csrfToken(ctx.macKey, `device:${current.value}`),
        username: user?.name ?? user?.username ?? '',
        ...(userCode !== undefined ? { userCode } : {}),
        ...(error !== undefined ? { error: t.t(error) } : {}),
      }),
    );
  };

  const lookUp = (request: FastifyRequest, sessionIdHash: string, typed: string) =>
    lookUpUserCode(ctx, { sessionIdHash, address: request.ip, typed });

  const confirm = async (request: FastifyRequest, reply: FastifyReply, current: { session: { userId: string }; value: string }, code: DeviceCode, typed: string) => {
    const t = pageTranslator(request);
    const client = await ctx.storage.clients.find(code.clientId);
    const user = await ctx.storage.users.findById(current.session.userId);
    return sendPage(
      reply,
      200,
      deviceConfirmPage({
        t,
        assetsPath,
        action: devicePath,
        csrfToken: csrfToken(ctx.macKey, `device:${current.value}`),
        userCode: formatUserCode(normalizeUserCode(typed)!),
        clientName: client?.name ?? code.clientId,
        username: user?.name ?? user?.username ?? '',
        scopes: await describeScopes(ctx, code.scope.split(' '), t),
      }),
    );
  };

  const limitedMessage = 'device.tooManyCodes';
  const wrongMessage = 'device.wrongCode';
  const unreadable = (request: FastifyRequest, reply: FastifyReply) => {
    const t = pageTranslator(request);
    return sendPage(reply, 400, errorPage(t, assetsPath, t.t('error.invalid.title'), t.t('error.invalid.formUnreadable')));
  };

  app.get(PATHS.device, async (request, reply) => {
    const params = pageParams(request)!;
    const typed = optionalParam(params, 'user_code')?.slice(0, 32);
    const current = await session(request);
    if (!current) return signIn(request, reply, typed);
    if (!typed) return entry(request, reply, current, 200);
    // Arrived from verification_uri_complete: straight to the confirmation, where the code is shown.
    const code = await lookUp(request, current.session.idHash, typed);
    if (code === 'limited') return entry(request, reply, current, 429, typed, limitedMessage);
    if (!code) return entry(request, reply, current, 400, typed, wrongMessage);
    return confirm(request, reply, current, code, typed);
  });

  app.post(`${PATHS.device}/login`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(request, reply);
    const typed = optionalParam(params, 'user_code')?.slice(0, 32);
    const login = await loginForm.submit(request, reply, params, loginFormPage(request, typed));
    if (!login.ok) return login.reply;
    // With an authenticator app, the device page asks for the code next.
    return reply.header('cache-control', 'no-store').redirect(devicePage(typed), 303);
  });

  app.post(`${PATHS.device}/login/passkey`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(request, reply);
    const typed = optionalParam(params, 'user_code')?.slice(0, 32);
    const login = await loginForm.submitPasskey(request, reply, params, loginFormPage(request, typed));
    if (!login.ok) return login.reply;
    return reply.header('cache-control', 'no-store').redirect(devicePage(typed), 303);
  });

  app.post(`${PATHS.device}/otp/passkey`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(request, reply);
    const typed = optionalParam(params, 'user_code')?.slice(0, 32);
    const step = await otpForm.submitPasskey(request, reply, params, otpFormPage(typed));
    if (!step.ok) return step.reason === 'refused' ? step.reply : loginForm.show(request, reply, loginFormPage(request, typed));
    return reply.header('cache-control', 'no-store').redirect(devicePage(typed), 303);
  });

  app.post(`${PATHS.device}/otp`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(request, reply);
    const typed = optionalParam(params, 'user_code')?.slice(0, 32);
    const otp = await otpForm.submit(request, reply, params, otpFormPage(typed));
    if (!otp.ok) return otp.reason === 'refused' ? otp.reply : loginForm.show(request, reply, loginFormPage(request, typed));
    return reply.header('cache-control', 'no-store').redirect(devicePage(typed), 303);
  });

  app.post(PATHS.device, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(request, reply);
    const current = await session(request);
    const typed = optionalParam(params, 'user_code')?.slice(0, 32) ?? '';
    if (!current) return signIn(request, reply, typed);
    if (!verifyCsrfToken(ctx.macKey, `device:${current.value}`, optionalParam(params, 'csrf_token'))) {
      return entry(request, reply, current, 403, typed, 'device.formExpired');
    }
    const code = await lookUp(request, current.session.idHash, typed);
    if (code === 'limited') return entry(request, reply, current, 429, typed, limitedMessage);
    if (!code) return entry(request, reply, current, 400, typed, wrongMessage);
    const decision = optionalParam(params, 'decision');
    if (decision === undefined) return confirm(request, reply, current, code, typed);
    if (decision !== 'allow' && decision !== 'deny') return entry(request, reply, current, 400, typed, 'device.chooseDecision');
    if (decision === 'allow' && !current.session.amr.includes('mfa')) {
      // The policy wants two factors and this sign-in has a password only: the user sets up an
      // authenticator app on the account page first (users/second-factor-policy.ts).
      const user = await ctx.storage.users.findById(current.session.userId);
      const client = await ctx.storage.clients.find(code.clientId);
      if (user && secondFactorRequired(ctx.settings, user, client)) {
        const t = pageTranslator(request);
        return sendPage(reply, 403, errorPage(t, assetsPath, t.t('device.secondFactor.title'), t.t('device.secondFactor.text', { account: `${issuerPath}${PATHS.account}` })));
      }
    }
    if (decision === 'allow' && acrOf(current.session.amr) !== ACR.phishingResistant && passkeyRequired(ctx.settings, await ctx.storage.clients.find(code.clientId))) {
      // The policy wants a passkey: the user signs in with one (adding it on the account page first).
      const t = pageTranslator(request);
      return sendPage(reply, 403, errorPage(t, assetsPath, t.t('device.passkey.title'), t.t('device.passkey.text', { account: `${issuerPath}${PATHS.account}` })));
    }
    const decided = await decideDeviceCode(ctx, code, current.session, decision);
    if (!decided && decision === 'allow') return entry(request, reply, current, 400, typed, wrongMessage);
    return sendPage(reply, 200, deviceDonePage(pageTranslator(request), assetsPath, decision === 'allow'));
  });
}
