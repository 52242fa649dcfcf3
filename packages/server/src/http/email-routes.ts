import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PATHS } from '../config/paths.ts';
import type { ServerContext } from '../context.ts';
import { AnonymousForm } from './anonymous-form.ts';
import { confirmEmailPage, forgotPasswordPage, forgotPasswordSentPage, noticePage, resetPasswordPage } from '../ui/email-pages.ts';
import { errorPage } from '../ui/pages.ts';
import { requestPasswordReset, resetLinkLive, resetPassword, verificationLinkLive, verifyEmail } from '../users/email-links.ts';
import { waitText } from './login-form.ts';
import { optionalParam, pageParams, pageTranslator, sendPage } from './page-reply.ts';
import { passwordProblemMessage } from '../users/password-rules.ts';

/**
 * The pages of the links Latchkey sends by mail (users/email-links.ts): "Forgot password?" and the
 * reset link's page, and the email verification link. Offered only when mail is configured. The
 * anonymous forms carry a CSRF token bound to a random cookie of the browser (RFC 6749 §10.12).
 */
export function registerEmailRoutes(app: FastifyInstance, ctx: ServerContext): void {
  if (!ctx.mail.enabled) return;
  const assetsPath = `${ctx.urls.pathPrefix}/assets`;
  const prefix = ctx.urls.pathPrefix;
  const forms = new AnonymousForm(ctx);
  const formToken = (request: FastifyRequest, reply: FastifyReply, purpose: string) => forms.token(request, reply, purpose);
  const formTokenValid = (request: FastifyRequest, purpose: string, submitted: string | undefined) => forms.valid(request, purpose, submitted);
  const unreadable = (request: FastifyRequest, reply: FastifyReply) => {
    const t = pageTranslator(request);
    return sendPage(reply, 400, errorPage(t, assetsPath, t.t('error.invalid.title'), t.t('error.invalid.formUnreadable')));
  };

  const forgotAction = `${prefix}${PATHS.forgotPassword}`;
  const showForgot = (request: FastifyRequest, reply: FastifyReply, status = 200, error?: string) =>
    sendPage(reply, status, forgotPasswordPage({ t: pageTranslator(request), assetsPath, action: forgotAction, csrfToken: formToken(request, reply, 'forgot'), ...(error ? { error } : {}) }));

  app.get(PATHS.forgotPassword, async (request, reply) => showForgot(request, reply));

  app.post(PATHS.forgotPassword, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(request, reply);
    const t = pageTranslator(request);
    if (!formTokenValid(request, 'forgot', optionalParam(params, 'csrf_token'))) return showForgot(request, reply, 403, t.t('page.formExpired'));
    const { limited, deliver } = await requestPasswordReset(ctx, optionalParam(params, 'identifier') ?? '', request.ip, t);
    if (limited !== undefined) {
      reply.header('retry-after', String(limited));
      return showForgot(request, reply, 429, t.t('email.forgot.tooMany', { wait: waitText(t, limited) }));
    }
    // After the answer: its content and timing are the same whether or not an account matched.
    setImmediate(() => {
      deliver().catch((err: unknown) => request.log.error({ err }, 'password reset mail could not be queued'));
    });
    return sendPage(reply, 200, forgotPasswordSentPage(t, assetsPath));
  });

  const resetAction = `${prefix}${PATHS.resetPassword}`;
  const showReset = (request: FastifyRequest, reply: FastifyReply, token: string, status = 200, error?: string) =>
    sendPage(reply, status, resetPasswordPage({ t: pageTranslator(request), assetsPath, action: resetAction, token, csrfToken: formToken(request, reply, 'reset'), ...(error ? { error } : {}) }));
  const deadLink = (request: FastifyRequest, reply: FastifyReply) => {
    const t = pageTranslator(request);
    return sendPage(reply, 400, noticePage(t, assetsPath, t.t('email.deadLink.title'), t.t('email.reset.dead.text'), { href: forgotAction, label: t.t('email.reset.newLink') }));
  };

  // The link's page only shows the form: opening a link (a mail scanner may) uses nothing.
  app.get(PATHS.resetPassword, async (request, reply) => {
    const token = pageParams(request)?.getAll('token')[0] ?? '';
    if (!(await resetLinkLive(ctx, token))) return deadLink(request, reply);
    return showReset(request, reply, token);
  });

  app.post(PATHS.resetPassword, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(request, reply);
    const token = optionalParam(params, 'token') ?? '';
    const t = pageTranslator(request);
    if (!formTokenValid(request, 'reset', optionalParam(params, 'csrf_token'))) return showReset(request, reply, token, 403, t.t('page.formExpired'));
    const outcome = await resetPassword(ctx, token, optionalParam(params, 'new_password') ?? '');
    if (!outcome.ok) {
      if (outcome.reason === 'invalid_password') {
        // The rule the password breaks, in the user's words (users/password-rules.ts).
        const reason = passwordProblemMessage(outcome.problem);
        return showReset(request, reply, token, 400, t.t('email.reset.refused', { reason: t.t(reason.key, reason.values) }));
      }
      return deadLink(request, reply);
    }
    request.log.info({ user: outcome.user.id }, 'password reset by mail link; every session ended and every grant revoked');
    return sendPage(reply, 200, noticePage(t, assetsPath, t.t('email.reset.done.title'), t.t('email.reset.done.text'), { href: `${prefix}${PATHS.account}`, label: t.t('email.goToAccount') }));
  });

  // The verification link. Opening it only shows a button (mail scanners open links, and must not
  // confirm an address for whoever asked); the button's POST uses the link (users/email-links.ts).
  const verifyAction = `${prefix}${PATHS.account}/verify-email`;
  const deadVerification = (request: FastifyRequest, reply: FastifyReply) => {
    const t = pageTranslator(request);
    return sendPage(reply, 400, noticePage(t, assetsPath, t.t('email.deadLink.title'), t.t('email.verify.dead.text'), { href: `${prefix}${PATHS.account}`, label: t.t('email.goToAccount') }));
  };
  app.get(`${PATHS.account}/verify-email`, async (request, reply) => {
    const token = pageParams(request)?.getAll('token')[0] ?? '';
    const link = await verificationLinkLive(ctx, token);
    if (!link) return deadVerification(request, reply);
    return sendPage(reply, 200, confirmEmailPage({ t: pageTranslator(request), assetsPath, action: verifyAction, token, email: link.email, csrfToken: formToken(request, reply, 'verify') }));
  });

  app.post(`${PATHS.account}/verify-email`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(request, reply);
    const token = optionalParam(params, 'token') ?? '';
    if (!formTokenValid(request, 'verify', optionalParam(params, 'csrf_token'))) {
      const link = await verificationLinkLive(ctx, token);
      if (!link) return deadVerification(request, reply);
      const t = pageTranslator(request);
      return sendPage(reply, 403, confirmEmailPage({ t, assetsPath, action: verifyAction, token, email: link.email, csrfToken: formToken(request, reply, 'verify'), error: t.t('page.formExpired') }));
    }
    const t = pageTranslator(request);
    const user = await verifyEmail(ctx, token, t);
    if (!user) return deadVerification(request, reply);
    request.log.info({ user: user.id }, 'email address verified');
    return sendPage(reply, 200, noticePage(t, assetsPath, t.t('email.verify.done.title'), t.t('email.verify.done.text', { email: user.email ?? '' }), { href: `${prefix}${PATHS.account}`, label: t.t('email.goToAccount') }));
  });
}
