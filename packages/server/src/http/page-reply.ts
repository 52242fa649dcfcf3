import type { FastifyReply, FastifyRequest } from 'fastify';
import { ServiceUnavailable } from '../errors.ts';
import { errorPage } from '../ui/pages.ts';
import { PAGE_SECURITY_HEADERS, pageHeadersWithScript } from '../ui/security-headers.ts';
import { brandPage, type Theme } from '../ui/theme.ts';
import { asOAuthError } from './error-reply.ts';
import { FormParams } from '../lib/form-params.ts';

/**
 * Sends an HTML page with the headers every page carries (ui/security-headers.ts); `scriptNonce`: the
 * page runs the passkey script under this nonce.
 */
export function sendPage(reply: FastifyReply, status: number, html: string, scriptNonce?: string): FastifyReply {
  // The operator's look (ui/theme.ts), set on the app by http/app.ts.
  const branding = (reply.server as unknown as { latchkeyBranding?: { theme: Theme; assetsPath: string } }).latchkeyBranding;
  const page = brandPage(html, branding?.theme ?? { productName: 'Latchkey' }, branding?.assetsPath ?? '/assets');
  return reply
    .code(status)
    .headers(scriptNonce ? pageHeadersWithScript(scriptNonce) : PAGE_SECURITY_HEADERS)
    .type('text/html; charset=utf-8')
    .send(page);
}

/** A page's parameters: the form body of a POST, the query string of a GET; undefined for a body we cannot read. */
export function pageParams(request: FastifyRequest): FormParams | undefined {
  if (request.method === 'POST') return request.body instanceof FormParams ? request.body : undefined;
  const q = request.url.indexOf('?');
  return new FormParams(q < 0 ? '' : request.url.slice(q + 1));
}

/** A form field that may be missing or repeated: repeated counts as missing. */
export function optionalParam(params: FormParams, name: string): string | undefined {
  try {
    return params.get(name);
  } catch {
    return undefined;
  }
}

/**
 * The error page for what a page's own steps did not answer: a database that is unavailable (503 with
 * Retry-After; RFC 6749 §4.1.2.1 would call it temporarily_unavailable, but before the client is
 * known nothing may be sent back to it), a request the framework refused (too large, too slow: its
 * 4xx), anything else 500. Never a detail of the failure.
 */
export function sendErrorPage(request: FastifyRequest, reply: FastifyReply, error: unknown, assetsPath: string): FastifyReply {
  const oauth = asOAuthError(error);
  if (oauth instanceof ServiceUnavailable) {
    request.log.warn({ err: error }, 'database unavailable: page answered 503');
    reply.header('retry-after', String(oauth.retryAfterSeconds));
    return sendPage(reply, 503, errorPage(assetsPath, 'Temporarily unavailable', 'The sign-in service is busy or under maintenance. Try again in a few seconds.'));
  }
  if (oauth && oauth.expose) {
    request.log.info({ error: oauth.error, detail: oauth.detail ?? oauth.description }, 'page request refused');
    return sendPage(reply, oauth.status, errorPage(assetsPath, 'Invalid request', 'The request could not be read.'));
  }
  request.log.error({ err: error }, 'page request failed');
  return sendPage(reply, 500, errorPage(assetsPath, 'Something went wrong', 'The sign-in could not be completed.'));
}
