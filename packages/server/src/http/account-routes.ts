import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { endSessions } from '../logout/end-sessions.ts';
import type { ServerContext } from '../context.ts';
import { PATHS } from '../config/paths.ts';
import { cookieHeader, readCookie } from '../lib/cookies.ts';
import type { FormParams } from '../lib/form-params.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import { passkeysAvailable, registerPasskey, registrationOptions, withPasskey } from '../users/passkeys.ts';
import { plausibleEmail, sendVerificationLink } from '../users/email-links.ts';
import { chosenPasswordProblem, passwordProblemMessage, type PasswordProblem } from '../users/password-rules.ts';
import { linksOf, unlink } from '../federation/accounts.ts';

/** Verification links a user may have sent per hour. */
const VERIFICATION_LINKS_PER_HOUR = 5;
import type { Session } from '../storage/session-store.ts';
import { accountPage, freshSignInPage, recoveryCodesPage, totpSetupPage } from '../ui/account-pages.ts';
import { issueRecoveryCodes } from '../users/recovery-codes.ts';
import { csrfToken, verifyCsrfToken } from '../ui/csrf.ts';
import { errorPage } from '../ui/pages.ts';
import { endPasswordOnlySessions, sessionOrigin, resumeSession, SESSION_ABSOLUTE_SECONDS, SESSION_IDLE_SECONDS, sessionCookieHeader, sessionCookieName, startSession } from '../users/sessions.ts';
import { beginTotpEnrolment, checkTotpCode, pendingTotpEnrolment } from '../users/totp.ts';
import { LoginForm, waitText } from './login-form.ts';
import { mac } from '../lib/mac.ts';
import { describeUserAgent } from '../ui/user-agent.ts';
import { authenticateUser } from '../users/authenticate-user.ts';
import { UserRegistry } from '../users/user-registry.ts';
import { OtpForm, withOtp } from './otp-form.ts';
import { optionalParam, pageParams, pageTranslator, sendPage } from './page-reply.ts';
import type { MessageKey } from '../i18n/catalogs.ts';
import type { Translator } from '../i18n/translator.ts';

/** Turning a sign-in method off needs a sign-in at most this old (a stolen, idle session cannot). */
export const FRESH_SIGN_IN_SECONDS = 10 * 60;

/** What `?updated=` may say after a change, and the notice the page then shows. */
const NOTICES: Record<string, MessageKey> = {
  'totp-on': 'account.notice.totpOn',
  'totp-off': 'account.notice.totpOff',
  'recovery-codes': 'account.notice.recoveryCodes',
  password: 'account.notice.password',
  'session-ended': 'account.notice.sessionEnded',
  'sessions-ended': 'account.notice.sessionsEnded',
  'link-removed': 'account.notice.linkRemoved',
  'application-removed': 'account.notice.applicationRemoved',
  'passkey-added': 'account.notice.passkeyAdded',
  'email-link-sent': 'account.notice.emailLinkSent',
  'passkey-removed': 'account.notice.passkeyRemoved',
};

/** Why a new password is refused (users/password-rules.ts), in the user's language. */
function passwordRefusal(t: Translator, problem: PasswordProblem): string {
  const words = passwordProblemMessage(problem);
  return t.t('account.error.passwordRefused', { reason: t.t(words.key, words.values) });
}

interface Current {
  session: Session;
  value: string;
}

/**
 * The account page (`/account`): the user signs in through Latchkey's own SSO session (the same login
 * and code forms as every flow) and manages how they sign in: an authenticator app (RFC 6238) set up
 * with a QR code drawn by the server, confirmed by a first code, turned off only after a recent
 * sign-in. Every form carries a CSRF token bound to the session; pages are never cached or framed
 * (ui/security-headers.ts); errors are pages (http/app.ts). See docs/account.md.
 */
export function registerAccountRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const assetsPath = `${ctx.urls.pathPrefix}/assets`;
  const accountPath = `${ctx.urls.pathPrefix}${PATHS.account}`;
  const sessionCookie = sessionCookieName(ctx.urls.secure);
  const loginForm = new LoginForm(ctx, assetsPath);
  // The login page says "to continue to your account" in the user's language.
  const loginPage = (request: FastifyRequest) => ({
    action: `${accountPath}/login`,
    clientName: pageTranslator(request).t('account.login.client'),
    carried: {},
    passkeyAction: `${accountPath}/login/passkey`,
  });
  const otpForm = new OtpForm(ctx, assetsPath);
  const otpPage = { action: `${accountPath}/otp`, carried: {}, passkeyAction: `${accountPath}/otp/passkey` };
  const addPasskeyAction = `${accountPath}/passkeys`;
  const addPasskeyBinding = (value: string) => `${value}\u0000${addPasskeyAction}`;
  const binding = (value: string) => `account:${value}`;

  const redirect = (reply: FastifyReply, location: string) => reply.header('cache-control', 'no-store').redirect(location, 303);

  const current = async (request: FastifyRequest): Promise<Current | undefined> => {
    const value = readCookie(request.headers.cookie, sessionCookie);
    const session = await resumeSession(ctx.storage, value, ctx.now());
    return session && value ? { session, value } : undefined;
  };

  /** Without a complete session: the code form when only the code is missing, else the login form. */
  const signIn = async (request: FastifyRequest, reply: FastifyReply) => {
    const partial = await otpForm.partial(request);
    if (partial) return otpForm.show(reply, partial, otpPage);
    return loginForm.show(request, reply, loginPage(request));
  };

  /** A session's name in the forms: a MAC of its id hash, so the page shows nothing a cookie could be made from. */
  const sessionRef = (idHash: string) => mac(ctx.macKey, 'account-session', idHash, 16);

  const sessionsOf = async (t: Translator, userId: string, current: Session) => {
    const now = ctx.now();
    const live = (await ctx.storage.sessions.listForUser(userId)).filter((s) => s.expiresAt > now && s.lastSeenAt + SESSION_IDLE_SECONDS > now);
    return live.map((s) => ({
      ref: sessionRef(s.idHash),
      browser: describeUserAgent(t, s.userAgent),
      address: s.address ?? null,
      lastSeenAt: s.lastSeenAt,
      current: s.idHash === current.idHash,
    }));
  };

  const applicationsOf = async (t: Translator, userId: string) => {
    const clients = await ctx.storage.grants.liveClientsForUser(userId);
    const named = await Promise.all(
      clients.map(async (c) => {
        const client = await ctx.storage.clients.find(c.clientId);
        // An application that registered itself chose its own name: said so (docs/security.md L77).
        const name = client ? (client.source === 'operator' ? client.name : t.t('account.applications.unverified', { name: client.name })) : c.clientId;
        return { clientId: c.clientId, name, lastGrantAt: c.lastGrantAt, scopes: c.scopes };
      }),
    );
    return named;
  };

  /** The account page; `extra`: its notice or error, translated. */
  const showAccount = async (reply: FastifyReply, now: Current, status = 200, extra: { notice?: string; error?: string } = {}) => {
    const t = pageTranslator(reply.request);
    const user = await ctx.storage.users.findById(now.session.userId);
    if (!user) return redirect(reply, accountPath);
    const factor = await ctx.storage.totp.find(user.id);
    const enabled = factor?.confirmedAt != null;
    const sessions = await sessionsOf(t, user.id, now.session);
    const applications = await applicationsOf(t, user.id);
    const token = csrfToken(ctx.macKey, binding(now.value));
    const passkeys = {
      list: (await ctx.storage.passkeys.listForUser(user.id)).map((p) => ({
        id: p.credentialId,
        name: p.name,
        createdAt: p.createdAt,
        lastUsedAt: p.lastUsedAt,
        synced: p.deviceType === 'multiDevice',
        counterRegressedAt: p.counterRegressedAt,
      })),
      add: {
        t,
        action: addPasskeyAction,
        mode: 'create' as const,
        options: await registrationOptions(ctx, user, addPasskeyBinding(now.value)),
        csrfToken: token,
        carried: {},
        label: t.t('account.passkeys.add'),
        nameField: true,
      },
      scriptNonce: randomToken(16),
    };
    return sendPage(
      reply,
      status,
      accountPage({
        t,
        assetsPath,
        accountPath,
        csrfToken: token,
        user,
        mail: ctx.mail.enabled,
        links: await linksOf(ctx, user.id),
        ...(passkeysAvailable(ctx) ? { passkeys } : {}),
        totp: enabled ? { enabled, since: factor!.confirmedAt! } : { enabled },
        ...(enabled ? { recovery: await ctx.storage.recoveryCodes.status(user.id) } : {}),
        sessions,
        applications,
        ...extra,
      }),
      passkeysAvailable(ctx) ? passkeys.scriptNonce : undefined,
    );
  };

  const showSetup = async (reply: FastifyReply, now: Current, status = 200, error?: string) => {
    const user = await ctx.storage.users.findById(now.session.userId);
    const pending = user && (await pendingTotpEnrolment(ctx, user));
    if (!pending) return redirect(reply, accountPath);
    return sendPage(
      reply,
      status,
      totpSetupPage({
        t: pageTranslator(reply.request),
        assetsPath,
        action: `${accountPath}/totp/confirm`,
        cancelPath: accountPath,
        csrfToken: csrfToken(ctx.macKey, binding(now.value)),
        qrSvg: pending.qrSvg,
        secret: pending.secret,
        ...(error !== undefined ? { error } : {}),
      }),
    );
  };

  /** A form body that could not be read: the error page. */
  const formUnreadable = (request: FastifyRequest, reply: FastifyReply) => {
    const t = pageTranslator(request);
    return sendPage(reply, 400, errorPage(t, assetsPath, t.t('error.invalid.title'), t.t('error.invalid.formUnreadable')));
  };

  /**
   * A form of the signed-in user: the session, the parameters, and the CSRF check. Anything else gets
   * its answer here: the sign-in forms, or the account page again (a forged or stale form).
   */
  const form = async (request: FastifyRequest, reply: FastifyReply): Promise<{ now: Current; params: FormParams } | FastifyReply> => {
    const params = pageParams(request);
    if (!params) return formUnreadable(request, reply);
    const now = await current(request);
    if (!now) return signIn(request, reply);
    if (!verifyCsrfToken(ctx.macKey, binding(now.value), optionalParam(params, 'csrf_token'))) {
      return showAccount(reply, now, 403, { error: pageTranslator(request).t('page.formExpired') });
    }
    return { now, params };
  };

  /** A change to how the user signs in, from a sign-in older than FRESH_SIGN_IN_SECONDS: sign in again first. */
  const askFreshSignIn = (reply: FastifyReply, now: Current) =>
    sendPage(reply, 403, freshSignInPage(pageTranslator(reply.request), assetsPath, `${accountPath}/reauthenticate`, csrfToken(ctx.macKey, binding(now.value))));

  app.get(PATHS.account, async (request, reply) => {
    const now = await current(request);
    if (!now) return signIn(request, reply);
    const updated = pageParams(request)?.getAll('updated')[0];
    return showAccount(reply, now, 200, updated !== undefined && Object.hasOwn(NOTICES, updated) ? { notice: pageTranslator(request).t(NOTICES[updated]!) } : {});
  });

  app.post(`${PATHS.account}/login`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return formUnreadable(request, reply);
    const login = await loginForm.submit(request, reply, params, loginPage(request));
    // With an authenticator app, the account page asks for the code next.
    return login.ok ? redirect(reply, accountPath) : login.reply;
  });

  app.post(`${PATHS.account}/login/passkey`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return formUnreadable(request, reply);
    const login = await loginForm.submitPasskey(request, reply, params, loginPage(request));
    return login.ok ? redirect(reply, accountPath) : login.reply;
  });

  app.post(`${PATHS.account}/otp/passkey`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return formUnreadable(request, reply);
    const step = await otpForm.submitPasskey(request, reply, params, otpPage);
    if (!step.ok && step.reason === 'refused') return step.reply;
    return redirect(reply, accountPath);
  });

  // Adding a passkey needs a recent sign-in (a session left open must not add a way in); the
  // authenticator verifies the user for it, so this browser's session counts it as used (two factors).
  app.post(`${PATHS.account}/passkeys`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now, params } = checked;
    if (now.session.authTime < ctx.now() - FRESH_SIGN_IN_SECONDS) return askFreshSignIn(reply, now);
    const user = await ctx.storage.users.findById(now.session.userId);
    if (!user) return redirect(reply, accountPath);
    const result = await registerPasskey(ctx, user, addPasskeyBinding(now.value), optionalParam(params, 'credential'), optionalParam(params, 'name') ?? '');
    if (!result.ok) {
      request.log.info({ reason: result.reason }, 'passkey not added');
      const error = pageTranslator(request).t(result.reason === 'duplicate' ? 'account.error.passkeyDuplicate' : 'account.error.passkeyNotAdded');
      return showAccount(reply, now, 400, { error });
    }
    await ctx.storage.sessions.delete(sha256(now.value));
    const { value } = await startSession(ctx.storage, user.id, withPasskey(now.session.amr, result.methods), ctx.now(), sessionOrigin(request), undefined, now.session.sid);
    reply.header('set-cookie', sessionCookieHeader(value, ctx.urls.secure, SESSION_ABSOLUTE_SECONDS));
    request.log.info({ user: user.id, passkey: result.passkey.name }, 'passkey added');
    return redirect(reply, `${accountPath}?updated=passkey-added`);
  });

  app.post(`${PATHS.account}/passkeys/remove`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now, params } = checked;
    if (now.session.authTime < ctx.now() - FRESH_SIGN_IN_SECONDS) return askFreshSignIn(reply, now);
    const removed = await ctx.storage.passkeys.delete(now.session.userId, optionalParam(params, 'passkey') ?? '');
    if (removed) {
      // Half sign-ins (password given, passkey not) would become whole ones without the factor: they end.
      await endPasswordOnlySessions(ctx.storage, now.session.userId);
      request.log.info({ user: now.session.userId }, 'passkey removed');
    }
    return redirect(reply, `${accountPath}?updated=passkey-removed`);
  });

  app.post(`${PATHS.account}/otp`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return formUnreadable(request, reply);
    const otp = await otpForm.submit(request, reply, params, otpPage);
    if (!otp.ok && otp.reason === 'refused') return otp.reply;
    return redirect(reply, accountPath);
  });

  // Setting up: a new secret (replacing one not yet confirmed), then the page with its QR code.
  app.post(`${PATHS.account}/totp`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const user = await ctx.storage.users.findById(checked.now.session.userId);
    if (!user || !(await beginTotpEnrolment(ctx, user))) return redirect(reply, accountPath);
    return redirect(reply, `${accountPath}/totp`);
  });

  app.get(`${PATHS.account}/totp`, async (request, reply) => {
    const now = await current(request);
    if (!now) return signIn(request, reply);
    return showSetup(reply, now);
  });

  app.post(`${PATHS.account}/totp/confirm`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now, params } = checked;
    const user = await ctx.storage.users.findById(now.session.userId);
    if (!user) return redirect(reply, accountPath);
    const check = await checkTotpCode(ctx, user, optionalParam(params, 'code') ?? '', true);
    if (!check.ok) {
      const t = pageTranslator(request);
      if (check.reason === 'rate_limited') {
        reply.header('retry-after', String(check.retryAfterSeconds));
        return showSetup(reply, now, 429, t.t('otp.tooManyWait', { wait: waitText(t, check.retryAfterSeconds) }));
      }
      if (check.reason === 'unreadable') return showSetup(reply, now, 503, t.t('otp.unreadable'));
      if (check.reason === 'locked') return showSetup(reply, now, 429, t.t('otp.tooMany'));
      return showSetup(reply, now, 400, t.t('otp.setup.wrongCode'));
    }
    // The user just showed both factors: this browser's session becomes a two-factor one (a new
    // cookie value), so it is not sent back to the code form; every other session asks for the code.
    await ctx.storage.sessions.delete(sha256(now.value));
    const { value } = await startSession(ctx.storage, user.id, withOtp(now.session.amr), ctx.now(), sessionOrigin(request), undefined, now.session.sid);
    reply.header('set-cookie', sessionCookieHeader(value, ctx.urls.secure, SESSION_ABSOLUTE_SECONDS));
    request.log.info({ user: user.id }, 'authenticator app turned on');
    // Shown once, on this answer (never cached: ui/security-headers.ts); only their hashes are kept.
    return sendPage(reply, 200, recoveryCodesPage(pageTranslator(request), assetsPath, await issueRecoveryCodes(ctx, user.id), `${accountPath}?updated=totp-on`));
  });

  app.post(`${PATHS.account}/recovery-codes`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now } = checked;
    if (now.session.authTime < ctx.now() - FRESH_SIGN_IN_SECONDS) return askFreshSignIn(reply, now);
    if (!(await ctx.storage.totp.isEnabled(now.session.userId))) return redirect(reply, accountPath);
    const codes = await issueRecoveryCodes(ctx, now.session.userId);
    request.log.info({ user: now.session.userId }, 'new recovery codes issued');
    return sendPage(reply, 200, recoveryCodesPage(pageTranslator(request), assetsPath, codes, `${accountPath}?updated=recovery-codes`));
  });

  app.post(`${PATHS.account}/totp/remove`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now } = checked;
    if (now.session.authTime < ctx.now() - FRESH_SIGN_IN_SECONDS) return askFreshSignIn(reply, now);
    await ctx.storage.totp.delete(now.session.userId);
    await ctx.storage.recoveryCodes.deleteForUser(now.session.userId);
    // Half sign-ins (password given, code not) would become whole ones without the factor: they end.
    await endPasswordOnlySessions(ctx.storage, now.session.userId);
    request.log.info({ user: now.session.userId }, 'authenticator app turned off');
    return redirect(reply, `${accountPath}?updated=totp-off`);
  });

  // The current password is required: a session left open in a shared browser is not enough. The
  // check is the login's, with its limits (users/authenticate-user.ts). A new password ends every
  // session (users/user-registry.ts); this browser gets a new one with the same sign-in methods.
  app.post(`${PATHS.account}/password`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now, params } = checked;
    const user = await ctx.storage.users.findById(now.session.userId);
    if (!user) return redirect(reply, accountPath);
    const result = await authenticateUser(ctx.storage, ctx.macKey, { username: user.username, password: optionalParam(params, 'current_password') ?? '', address: request.ip });
    const t = pageTranslator(request);
    if (!result.ok) {
      if (result.reason === 'rate_limited') {
        reply.header('retry-after', String(result.retryAfterSeconds));
        return showAccount(reply, now, 429, { error: t.t('account.error.tooManyPasswords', { wait: waitText(t, result.retryAfterSeconds) }) });
      }
      return showAccount(reply, now, 400, { error: t.t('account.error.wrongPassword') });
    }
    const chosen = optionalParam(params, 'new_password') ?? '';
    const problem = chosenPasswordProblem(chosen, user);
    if (problem) return showAccount(reply, now, 400, { error: passwordRefusal(t, problem) });
    await new UserRegistry(ctx.storage).setPassword(user.username, chosen);
    // The same sign-in, a new cookie: auth_time stays, so a password change is no fresh sign-in for
    // turning a factor off (a stolen cookie plus the password must not be enough for that).
    const { value } = await startSession(ctx.storage, user.id, now.session.amr, ctx.now(), sessionOrigin(request), now.session.authTime);
    reply.header('set-cookie', sessionCookieHeader(value, ctx.urls.secure, SESSION_ABSOLUTE_SECONDS));
    request.log.info({ user: user.id }, 'password changed on the account page');
    return redirect(reply, `${accountPath}?updated=password`);
  });

  app.post(`${PATHS.account}/sessions/end`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now, params } = checked;
    const ref = optionalParam(params, 'session') ?? '';
    const target = (await ctx.storage.sessions.listForUser(now.session.userId)).find((s) => s.idHash !== now.session.idHash && sessionRef(s.idHash) === ref);
    if (target) {
      await endSessions(ctx.storage, [target], ctx.now(), ctx.logger);
      ctx.backchannelLogout.kick();
    }
    return redirect(reply, `${accountPath}?updated=session-ended`);
  });

  // Email: a link to the current address confirms it; a new address is used once its link is opened
  // (users/email-links.ts). A change needs a recent sign-in; at most a few links per hour per account.
  const sendLink = async (request: FastifyRequest, reply: FastifyReply, now: Current, email: string) => {
    if (!ctx.mail.enabled) return redirect(reply, accountPath);
    const user = await ctx.storage.users.findById(now.session.userId);
    if (!user) return redirect(reply, accountPath);
    const time = ctx.now();
    const windowStart = time - (time % 3600);
    if ((await ctx.storage.rateLimits.hit(`verify-email:user:${user.id}`, windowStart)) > VERIFICATION_LINKS_PER_HOUR) {
      reply.header('retry-after', String(windowStart + 3600 - time));
      return showAccount(reply, now, 429, { error: pageTranslator(request).t('account.error.tooManyLinks') });
    }
    // The mail is written in the language of the page that asked for it.
    await sendVerificationLink(ctx, user, email, pageTranslator(request));
    request.log.info({ user: user.id, change: email !== user.email }, 'email verification link sent');
    return redirect(reply, `${accountPath}?updated=email-link-sent`);
  };

  app.post(`${PATHS.account}/email/verify`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const user = await ctx.storage.users.findById(checked.now.session.userId);
    if (!user?.email || user.emailVerified) return redirect(reply, accountPath);
    return sendLink(request, reply, checked.now, user.email);
  });

  app.post(`${PATHS.account}/email`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now, params } = checked;
    if (now.session.authTime < ctx.now() - FRESH_SIGN_IN_SECONDS) return askFreshSignIn(reply, now);
    const email = (optionalParam(params, 'email') ?? '').trim();
    if (!plausibleEmail(email)) return showAccount(reply, now, 400, { error: pageTranslator(request).t('account.error.notAnEmail') });
    return sendLink(request, reply, now, email);
  });

  app.post(`${PATHS.account}/links/remove`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const provider = optionalParam(checked.params, 'provider') ?? '';
    if (await unlink(ctx, checked.now.session.userId, provider)) request.log.info({ user: checked.now.session.userId, provider }, 'upstream link removed on the account page');
    return redirect(reply, `${accountPath}?updated=link-removed`);
  });

  app.post(`${PATHS.account}/sessions/end-others`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now } = checked;
    // Back-Channel Logout: the clients of each ended session are told (logout/end-sessions.ts).
    const others = (await ctx.storage.sessions.listForUser(now.session.userId)).filter((s) => s.idHash !== now.session.idHash);
    const ended = await endSessions(ctx.storage, others, ctx.now(), ctx.logger);
    ctx.backchannelLogout.kick();
    request.log.info({ user: now.session.userId, sessions: ended }, 'other sessions signed out on the account page');
    return redirect(reply, `${accountPath}?updated=sessions-ended`);
  });

  // Removing an application revokes every grant the user gave it (codes, refresh and access tokens,
  // storage/grant-store.ts) and forgets the consent, so it must ask again.
  app.post(`${PATHS.account}/applications/remove`, async (request, reply) => {
    const checked = await form(request, reply);
    if (!('now' in checked)) return checked;
    const { now, params } = checked;
    const clientId = optionalParam(params, 'client_id') ?? '';
    const revoked = await ctx.storage.grants.revokeForUserAndClient(now.session.userId, clientId, ctx.now());
    await ctx.storage.consents.forget(now.session.userId, clientId);
    request.log.info({ user: now.session.userId, client: clientId, grants: revoked }, 'application access removed on the account page');
    return redirect(reply, `${accountPath}?updated=application-removed`);
  });

  // Sign in again (for a change that needs a recent sign-in), and sign out: both end this session.
  for (const path of ['/reauthenticate', '/logout']) {
    app.post(`${PATHS.account}${path}`, async (request, reply) => {
      const checked = await form(request, reply);
      if (!('now' in checked)) return checked;
      if (path === '/logout') {
        // Signing out here is a logout like /logout's: the session's clients are told (logout/end-sessions.ts).
        await endSessions(ctx.storage, [checked.now.session], ctx.now(), ctx.logger);
        ctx.backchannelLogout.kick();
      } else {
        await ctx.storage.sessions.delete(sha256(checked.now.value));
      }
      reply.header('set-cookie', cookieHeader(sessionCookie, '', ctx.urls.secure, 0));
      return redirect(reply, accountPath);
    });
  }
}
