import type { FastifyReply, FastifyRequest } from 'fastify';
import { ServiceUnavailable } from '../errors.ts';
import { errorPage } from '../ui/pages.ts';
import { PAGE_SECURITY_HEADERS, pageHeadersWithScript } from '../ui/security-headers.ts';
import { brandPage, type Theme } from '../ui/theme.ts';
import { asOAuthError } from './error-reply.ts';
import { FormParams } from '../lib/form-params.ts';
import { Languages } from '../i18n/languages.ts';
import type { Translator } from '../i18n/translator.ts';
import type { MessageKey } from '../i18n/catalogs.ts';

/** What http/app.ts sets on the app for every page: the operator's look and the languages. */
interface PageSettings {
  theme: Theme;
  assetsPath: string;
  languages: Languages;
}

const DEFAULT_LANGUAGES = new Languages();

function pageSettings(server: unknown): PageSettings | undefined {
  return (server as { latchkeyBranding?: PageSettings }).latchkeyBranding;
}

/**
 * The user's language for a page (i18n/languages.ts): the authorization request's `ui_locales` when the
 * page belongs to one, else the browser's Accept-Language, else the server's default.
 */
export function pageTranslator(request: FastifyRequest, uiLocales?: string): Translator {
  const languages = pageSettings(request.server)?.languages ?? DEFAULT_LANGUAGES;
  const accept = request.headers['accept-language'];
  return languages.choose(uiLocales, typeof accept === 'string' ? accept : undefined);
}

/**
 * Sends an HTML page with the headers every page carries (ui/security-headers.ts); `scriptNonce`: the
 * page runs the passkey script under this nonce.
 */
export function sendPage(reply: FastifyReply, status: number, html: string, scriptNonce?: string): FastifyReply {
  // The operator's look (ui/theme.ts), set on the app by http/app.ts.
  const branding = pageSettings(reply.server);
  const languages = branding?.languages ?? DEFAULT_LANGUAGES;
  const page = brandPage(html, branding?.theme ?? { productName: 'Latchkey' }, branding?.assetsPath ?? '/assets', (locale, key) =>
    languages.translator(locale).t(key as MessageKey),
  );
  // RFC 9110 §8.5 Content-Language: the page's language, as ui/pages.ts layout() wrote it (before an
  // operator's layout could change the frame); §12.5.5 Vary: it may follow the browser's Accept-Language.
  const lang = /^<!doctype html>\s*<html lang="([A-Za-z0-9-]{1,35})"/.exec(html)?.[1];
  if (lang) reply.header('content-language', lang);
  const vary = reply.getHeader('vary');
  return reply
    .code(status)
    .headers(scriptNonce ? pageHeadersWithScript(scriptNonce) : PAGE_SECURITY_HEADERS)
    .header('vary', vary ? `${String(vary)}, Accept-Language` : 'Accept-Language')
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
  const t = pageTranslator(request);
  const oauth = asOAuthError(error);
  if (oauth instanceof ServiceUnavailable) {
    request.log.warn({ err: error }, 'database unavailable: page answered 503');
    reply.header('retry-after', String(oauth.retryAfterSeconds));
    return sendPage(reply, 503, errorPage(t, assetsPath, t.t('error.unavailable.title'), t.t('error.unavailable.text')));
  }
  if (oauth && oauth.expose) {
    request.log.info({ error: oauth.error, detail: oauth.detail ?? oauth.description }, 'page request refused');
    return sendPage(reply, oauth.status, errorPage(t, assetsPath, t.t('error.invalid.title'), t.t('error.invalid.unreadable')));
  }
  request.log.error({ err: error }, 'page request failed');
  return sendPage(reply, 500, errorPage(t, assetsPath, t.t('error.failed.title'), t.t('error.failed.text')));
}
