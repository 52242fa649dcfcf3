import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { cookieHeader, readCookie } from '../lib/cookies.ts';
import { randomToken } from '../lib/random.ts';
import { csrfToken, verifyCsrfToken } from '../ui/csrf.ts';

/**
 * CSRF tokens for the forms of someone not signed in (forgot password, reset, sign-up): bound to a
 * random cookie of the browser (RFC 6749 §10.12, as the login form's), set when the form is shown.
 */
export class AnonymousForm {
  private readonly ctx: ServerContext;
  private readonly cookie: string;

  constructor(ctx: ServerContext) {
    this.ctx = ctx;
    this.cookie = ctx.urls.secure ? '__Host-latchkey_form' : 'latchkey_form';
  }

  /** The token for a form of `purpose`; sets the browser's cookie when it has none. */
  token(request: FastifyRequest, reply: FastifyReply, purpose: string): string {
    let value = readCookie(request.headers.cookie, this.cookie);
    if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
      value = randomToken(32);
      reply.header('set-cookie', cookieHeader(this.cookie, value, this.ctx.urls.secure, 3600));
    }
    return csrfToken(this.ctx.macKey, `${purpose}:${value}`);
  }

  valid(request: FastifyRequest, purpose: string, submitted: string | undefined): boolean {
    const value = readCookie(request.headers.cookie, this.cookie);
    return value !== undefined && verifyCsrfToken(this.ctx.macKey, `${purpose}:${value}`, submitted);
  }
}
