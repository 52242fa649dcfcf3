import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PATHS } from '../config/paths.ts';
import type { ServerContext } from '../context.ts';
import { AnonymousForm } from './anonymous-form.ts';
import { confirmEmailPage, forgotPasswordPage, forgotPasswordSentPage, noticePage, resetPasswordPage } from '../ui/email-pages.ts';
import { errorPage } from '../ui/pages.ts';
import { requestPasswordReset, resetLinkLive, resetPassword, verificationLinkLive, verifyEmail } from '../users/email-links.ts';
import { waitText } from './login-form.ts';
import { optionalParam, pageParams, sendPage } from './page-reply.ts';

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
  const unreadable = (reply: FastifyReply) => sendPage(reply, 400, errorPage(assetsPath, 'Invalid request', 'The form could not be read.'));

  const forgotAction = `${prefix}${PATHS.forgotPassword}`;
  const showForgot = (request: FastifyRequest, reply: FastifyReply, status = 200, error?: string) =>
    sendPage(reply, status, forgotPasswordPage({ assetsPath, action: forgotAction, csrfToken: formToken(request, reply, 'forgot'), ...(error ? { error } : {}) }));

  app.get(PATHS.forgotPassword, async (request, reply) => showForgot(request, reply));

  app.post(PATHS.forgotPassword, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(reply);
    if (!formTokenValid(request, 'forgot', optionalParam(params, 'csrf_token'))) return showForgot(request, reply, 403, 'The form expired. Please try again.');
    const { limited, deliver } = await requestPasswordReset(ctx, optionalParam(params, 'identifier') ?? '', request.ip);
    if (limited !== undefined) {
      reply.header('retry-after', String(limited));
      return showForgot(request, reply, 429, `Too many requests from your network. Try again in ${waitText(limited)}.`);
    }
    // After the answer: its content and timing are the same whether or not an account matched.
    setImmediate(() => {
      deliver().catch((err: unknown) => request.log.error({ err }, 'password reset mail could not be queued'));
    });
    return sendPage(reply, 200, forgotPasswordSentPage(assetsPath));
  });

  const resetAction = `${prefix}${PATHS.resetPassword}`;
  const showReset = (request: FastifyRequest, reply: FastifyReply, token: string, status = 200, error?: string) =>
    sendPage(reply, status, resetPasswordPage({ assetsPath, action: resetAction, token, csrfToken: formToken(request, reply, 'reset'), ...(error ? { error } : {}) }));
  const deadLink = (reply: FastifyReply) =>
    sendPage(reply, 400, noticePage(assetsPath, 'This link does not work', 'It was used already, or it is more than 30 minutes old. Ask for a new one.', { href: forgotAction, label: 'Ask for a new link' }));

  // The link's page only shows the form: opening a link (a mail scanner may) uses nothing.
  app.get(PATHS.resetPassword, async (request, reply) => {
    const token = pageParams(request)?.getAll('token')[0] ?? '';
    if (!(await resetLinkLive(ctx, token))) return deadLink(reply);
    return showReset(request, reply, token);
  });

  app.post(PATHS.resetPassword, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(reply);
    const token = optionalParam(params, 'token') ?? '';
    if (!formTokenValid(request, 'reset', optionalParam(params, 'csrf_token'))) return showReset(request, reply, token, 403, 'The form expired. Please try again.');
    const outcome = await resetPassword(ctx, token, optionalParam(params, 'new_password') ?? '');
    if (!outcome.ok) {
      if (outcome.reason === 'invalid_password') return showReset(request, reply, token, 400, `The new password is not accepted: ${outcome.message}.`);
      return deadLink(reply);
    }
    request.log.info({ user: outcome.user.id }, 'password reset by mail link; every session ended and every grant revoked');
    return sendPage(reply, 200, noticePage(assetsPath, 'Your password is changed', 'Every browser and application was signed out. Sign in with the new password.', { href: `${prefix}${PATHS.account}`, label: 'Go to your account' }));
  });

  // The verification link. Opening it only shows a button (mail scanners open links, and must not
  // confirm an address for whoever asked); the button's POST uses the link (users/email-links.ts).
  const verifyAction = `${prefix}${PATHS.account}/verify-email`;
  const deadVerification = (reply: FastifyReply) =>
    sendPage(reply, 400, noticePage(assetsPath, 'This link does not work', 'It was used already, or it is more than a day old. Send a new one from your account page.', { href: `${prefix}${PATHS.account}`, label: 'Go to your account' }));
  app.get(`${PATHS.account}/verify-email`, async (request, reply) => {
    const token = pageParams(request)?.getAll('token')[0] ?? '';
    const link = await verificationLinkLive(ctx, token);
    if (!link) return deadVerification(reply);
    return sendPage(reply, 200, confirmEmailPage({ assetsPath, action: verifyAction, token, email: link.email, csrfToken: formToken(request, reply, 'verify') }));
  });

  app.post(`${PATHS.account}/verify-email`, async (request, reply) => {
    const params = pageParams(request);
    if (!params) return unreadable(reply);
    const token = optionalParam(params, 'token') ?? '';
    if (!formTokenValid(request, 'verify', optionalParam(params, 'csrf_token'))) {
      const link = await verificationLinkLive(ctx, token);
      if (!link) return deadVerification(reply);
      return sendPage(reply, 403, confirmEmailPage({ assetsPath, action: verifyAction, token, email: link.email, csrfToken: formToken(request, reply, 'verify'), error: 'The form expired. Please try again.' }));
    }
    const user = await verifyEmail(ctx, token);
    if (!user) return sendPage(reply, 400, noticePage(assetsPath, 'This link does not work', 'It was used already, or it is more than a day old. Send a new one from your account page.', { href: `${prefix}${PATHS.account}`, label: 'Go to your account' }));
    request.log.info({ user: user.id }, 'email address verified');
    return sendPage(reply, 200, noticePage(assetsPath, 'Your email address is confirmed', `${user.email} is now the confirmed address of your account.`, { href: `${prefix}${PATHS.account}`, label: 'Go to your account' }));
  });
}
