import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readAuthorizationRequest, type AuthorizationRequest } from '../authorize/authorization-request.ts';
import { toClientIfUnavailable } from '../authorize/authorization-response.ts';
import { decideNextStep } from '../authorize/decide.ts';
import { PATHS } from '../config/paths.ts';
import type { ServerContext } from '../context.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import type { Session } from '../storage/session-store.ts';
import { passkeyStepPage } from '../ui/account-pages.ts';
import { csrfToken, loginProof, verifyCsrfToken } from '../ui/csrf.ts';
import { redirectHost } from '../ui/redirect-host.ts';
import type { AuthenticationMethod } from '../users/authentication-context.ts';
import { authenticationOptions, registerPasskey, registrationOptions, verifyPasskeyAssertion, withPasskey } from '../users/passkeys.ts';
import { SESSION_ABSOLUTE_SECONDS, sessionCookieHeader, sessionOrigin, startSession } from '../users/sessions.ts';
import type { BrowserSteps } from './browser-routes.ts';
import { optionalParam, pageTranslator, sendPage } from './page-reply.ts';
import { FRESH_SIGN_IN_SECONDS } from './account-routes.ts';
import type { MessageKey } from '../i18n/catalogs.ts';

/**
 * A signed-in user whose sign-in must include a passkey before the authorization goes on (acr_values
 * `phr`, or the passkey policy: authorize/decide.ts): the page asks for one of their passkeys, or, when
 * they have none, to add one (which counts as using it: the authenticator verified the user for the
 * new credential). Either way the session is replaced by one whose amr adds the passkey (acr `phr`) and
 * whose auth_time is now, and the authorization goes on.
 */
export function registerPasskeyStepRoutes(app: FastifyInstance, ctx: ServerContext, steps: BrowserSteps): void {
  const useAction = `${ctx.urls.pathPrefix}${PATHS.loginPasskeyStep}`;
  const addAction = `${useAction}/add`;
  const csrfBinding = (value: string) => `passkey-step:${value}`;
  const challengeBinding = (value: string, action: string) => `${value}\u0000${action}`;

  const stale = (session: Session) => session.authTime < ctx.now() - FRESH_SIGN_IN_SECONDS;

  const current = async (request: FastifyRequest): Promise<{ session: Session; value: string } | undefined> => {
    const value = steps.sessionValue(request);
    const session = await steps.currentSession(request);
    return session && value ? { session, value } : undefined;
  };

  /** The page; `error`: a message key of what went wrong, said in the page's language. */
  const show = async (reply: FastifyReply, authorization: AuthorizationRequest, now: { session: Session; value: string }, status = 200, error?: MessageKey) => {
    const t = pageTranslator(reply.request, authorization.uiLocales);
    const user = await ctx.storage.users.findById(now.session.userId);
    if (!user) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
    const has = await ctx.storage.passkeys.hasAny(user.id);
    // Adding a way to sign in needs a recent sign-in, as on the account page: an old session (a
    // stolen cookie) signs in again first, then comes back here.
    if (!has && stale(now.session)) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
    const clientName = authorization.client.source === 'operator' ? authorization.client.name : redirectHost(authorization.redirectUri);
    const token = csrfToken(ctx.macKey, csrfBinding(now.value));
    const nonce = randomToken(16);
    const form = has
      ? { action: useAction, mode: 'get' as const, options: await authenticationOptions(ctx, 'step-up', challengeBinding(now.value, useAction), user), label: t.t('account.passkeyStep.useButton') }
      : {
          action: addAction,
          mode: 'create' as const,
          options: await registrationOptions(ctx, user, challengeBinding(now.value, addAction)),
          label: t.t('account.passkeyStep.addButton'),
          nameField: true,
        };
    return sendPage(
      reply,
      status,
      passkeyStepPage({
        t,
        assetsPath: steps.assetsPath,
        username: user.name ?? user.username,
        reason: t.t('account.passkeyStep.reason', { client: clientName }),
        form: { ...form, t, csrfToken: token, carried: authorization.params, kind: 'primary' },
        scriptNonce: nonce,
        ...(error !== undefined ? { error: t.t(error) } : {}),
      }),
      nonce,
    );
  };

  app.get(PATHS.loginPasskeyStep, async (request, reply) => {
    try {
      const authorization = await readAuthorizationRequest(ctx, steps.paramsOf(request), 'page');
      const now = await current(request);
      if (!now) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
      return await show(reply, authorization, now);
    } catch (err) {
      return steps.fail(request, reply, err);
    }
  });

  /** The passkey checked (used or added): a new session with it, and the authorization goes on. */
  const passed = async (request: FastifyRequest, reply: FastifyReply, authorization: AuthorizationRequest, now: { session: Session; value: string }, methods: AuthenticationMethod[]) => {
    await ctx.storage.sessions.delete(sha256(now.value));
    const { value, session } = await startSession(ctx.storage, now.session.userId, withPasskey(now.session.amr, methods), ctx.now(), sessionOrigin(request), undefined, now.session.sid);
    reply.header('set-cookie', sessionCookieHeader(value, ctx.urls.secure, SESSION_ABSOLUTE_SECONDS));
    const next = await decideNextStep(ctx, authorization, session, true);
    return steps.sendNext(reply, authorization, next, loginProof(ctx.macKey, value, authorization.params));
  };

  for (const action of [useAction, addAction]) {
    app.post(action.slice(ctx.urls.pathPrefix.length), async (request, reply) => {
      try {
        const params = steps.paramsOf(request);
        const authorization = await readAuthorizationRequest(ctx, params, 'page');
        return await toClientIfUnavailable(authorization, async () => {
          const now = await current(request);
          if (!now) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
          if (!verifyCsrfToken(ctx.macKey, csrfBinding(now.value), optionalParam(params, 'csrf_token'))) {
            return show(reply, authorization, now, 403, 'page.formExpired');
          }
          const credential = optionalParam(params, 'credential');
          const binding = challengeBinding(now.value, action);
          if (action === useAction) {
            const result = await verifyPasskeyAssertion(ctx, 'step-up', binding, credential, now.session.userId);
            if (!result.ok) {
              request.log.info({ reason: result.reason }, 'passkey step-up refused');
              return show(reply, authorization, now, 400, 'otp.passkeyFailed');
            }
            return passed(request, reply, authorization, now, result.methods);
          }
          const user = await ctx.storage.users.findById(now.session.userId);
          if (!user) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
          // Only a user without passkeys adds one here; one who has them uses them. A recent sign-in only.
          if (await ctx.storage.passkeys.hasAny(user.id)) return show(reply, authorization, now, 400, 'account.passkeyStep.useOneOfYours');
          if (stale(now.session)) return steps.redirect(reply, steps.pageUrl(PATHS.login, authorization));
          const result = await registerPasskey(ctx, user, binding, credential, optionalParam(params, 'name') ?? '');
          if (!result.ok) {
            request.log.info({ reason: result.reason }, 'passkey not added');
            return show(reply, authorization, now, 400, 'account.passkeyStep.notAdded');
          }
          request.log.info({ user: user.id }, 'passkey added during a sign-in');
          return passed(request, reply, authorization, now, result.methods);
        });
      } catch (err) {
        return steps.fail(request, reply, err);
      }
    });
  }
}
