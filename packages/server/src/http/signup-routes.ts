import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PATHS } from '../config/paths.ts';
import type { ServerContext } from '../context.ts';
import type { FormParams } from '../lib/form-params.ts';
import { noticePage, signupPage } from '../ui/email-pages.ts';
import { errorPage } from '../ui/pages.ts';
import { findInvitation, signUp } from '../users/signup.ts';
import { passwordProblemMessage } from '../users/password-rules.ts';
import type { MessageKey } from '../i18n/catalogs.ts';
import { SESSION_ABSOLUTE_SECONDS, sessionCookieHeader, sessionOrigin, startSession } from '../users/sessions.ts';
import { PASSWORD_ONLY } from '../users/authentication-context.ts';
import { AnonymousForm } from './anonymous-form.ts';
import { optionalParam, pageParams, pageTranslator, sendPage } from './page-reply.ts';

/**
 * `/signup` (users/signup.ts): open to anyone with LATCHKEY_SIGNUP=open, to holders of an invitation
 * link with `invite`, absent with `off`. An invited user is signed in at once (the invitation reached
 * the address); anyone else gets a link to confirm the address first.
 */
export function registerSignupRoutes(app: FastifyInstance, ctx: ServerContext): void {
  if (ctx.settings.signup === 'off') return;
  const assetsPath = `${ctx.urls.pathPrefix}/assets`;
  const action = `${ctx.urls.pathPrefix}${PATHS.signup}`;
  const accountPath = `${ctx.urls.pathPrefix}${PATHS.account}`;
  const forms = new AnonymousForm(ctx);

  const closed = (request: FastifyRequest, reply: FastifyReply, text: MessageKey) => {
    const t = pageTranslator(request);
    return sendPage(reply, 403, noticePage(t, assetsPath, t.t('signup.byInvitation.title'), t.t(text)));
  };

  const show = async (request: FastifyRequest, reply: FastifyReply, params: FormParams | undefined, status = 200, error?: string) => {
    const t = pageTranslator(request);
    const token = params ? optionalParam(params, 'invitation') : undefined;
    const invited = token !== undefined ? await findInvitation(ctx, token) : undefined;
    if (token !== undefined && !invited) return closed(request, reply, 'signup.byInvitation.invitationDead');
    if (!invited && ctx.settings.signup === 'invite') return closed(request, reply, 'signup.byInvitation.text');
    const values = params && request.method === 'POST' ? { username: optionalParam(params, 'username') ?? '', email: optionalParam(params, 'email') ?? '', name: optionalParam(params, 'name') ?? '' } : {};
    return sendPage(
      reply,
      status,
      signupPage({
        t,
        assetsPath,
        action,
        csrfToken: forms.token(request, reply, 'signup'),
        ...(invited && token ? { invitation: { token, email: invited.email } } : {}),
        values,
        ...(error ? { error } : {}),
      }),
    );
  };

  app.get(PATHS.signup, async (request, reply) => show(request, reply, pageParams(request)));

  app.post(PATHS.signup, async (request, reply) => {
    const t = pageTranslator(request);
    const params = pageParams(request);
    if (!params) return sendPage(reply, 400, errorPage(t, assetsPath, t.t('error.invalid.title'), t.t('error.invalid.formUnreadable')));
    if (!forms.valid(request, 'signup', optionalParam(params, 'csrf_token'))) return show(request, reply, params, 403, t.t('page.formExpired'));
    const invitation = optionalParam(params, 'invitation');
    const outcome = await signUp(
      ctx,
      {
        username: optionalParam(params, 'username') ?? '',
        email: optionalParam(params, 'email') ?? '',
        password: optionalParam(params, 'password') ?? '',
        ...(optionalParam(params, 'name') ? { name: optionalParam(params, 'name')! } : {}),
        ...(invitation !== undefined ? { invitation } : {}),
      },
      request.ip,
      t,
    );
    if (!outcome.ok) {
      if (outcome.reason === 'rate_limited') reply.header('retry-after', String(outcome.retryAfterSeconds));
      if (outcome.reason === 'closed') return closed(request, reply, outcome.message);
      const problem = outcome.password ? passwordProblemMessage(outcome.password) : undefined;
      const error = problem ? t.t(outcome.message, { reason: t.t(problem.key, problem.values) }) : t.t(outcome.message);
      return show(request, reply, params, outcome.reason === 'rate_limited' ? 429 : 400, error);
    }
    request.log.info({ user: outcome.user.id, invited: outcome.confirmed }, 'account created by sign-up');
    if (!outcome.confirmed) {
      return sendPage(reply, 200, noticePage(t, assetsPath, t.t('signup.sent.title'), t.t('signup.sent.text', { email: outcome.user.email ?? '' })));
    }
    // Invited: the address is confirmed, and the user just chose the password: signed in.
    const { value } = await startSession(ctx.storage, outcome.user.id, PASSWORD_ONLY, ctx.now(), sessionOrigin(request));
    reply.header('set-cookie', sessionCookieHeader(value, ctx.urls.secure, SESSION_ABSOLUTE_SECONDS));
    return reply.header('cache-control', 'no-store').redirect(accountPath, 303);
  });
}
