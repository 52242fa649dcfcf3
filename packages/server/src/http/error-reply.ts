import type { FastifyReply, FastifyRequest } from 'fastify';
import { InsufficientScope, InvalidClient, InvalidRequest, InvalidToken, OAuthError, PayloadTooLarge, ServerError } from '../errors.ts';

/** Fastify's own request errors that are the caller's fault, mapped to OAuth errors. */
function fromFastifyError(error: { code?: string; statusCode?: number; message?: string }): OAuthError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge('request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_TYPE':
      return new InvalidRequest('the request body must be application/x-www-form-urlencoded');
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new InvalidRequest('malformed request');
  }
  return undefined;
}

/**
 * The one serializer: RFC 6749 §5.2 JSON error bodies. Anything unexpected is logged and answered as
 * `server_error` (500) with no detail, never a stack trace.
 */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const oauth = error instanceof OAuthError ? error : fromFastifyError(error as { code?: string });
  if (!oauth || !oauth.expose) {
    request.log.error({ err: error }, 'request failed');
    return send(reply, new ServerError('the server could not handle the request'));
  }
  request.log.info({ error: oauth.error, detail: oauth.detail ?? oauth.description }, 'request refused');
  return send(reply, oauth);
}

function send(reply: FastifyReply, error: OAuthError): FastifyReply {
  reply.code(error.status).header('cache-control', 'no-store').header('pragma', 'no-cache');
  // RFC 6749 §5.2: a 401 for a client that used the Authorization header MUST carry WWW-Authenticate
  // with that scheme; RFC 9110 §15.5.2 wants the header on every 401, so it is always sent.
  if (error instanceof InvalidClient) reply.header('www-authenticate', 'Basic realm="latchkey", charset="UTF-8"');
  // RFC 6750 §3: a protected resource (userinfo) answers with a Bearer challenge naming the error.
  if (error instanceof InvalidToken || error instanceof InsufficientScope) {
    const scope = error instanceof InsufficientScope ? `, scope="${error.scope}"` : '';
    reply.header(
      'www-authenticate',
      `Bearer realm="latchkey", error="${error.error}", error_description="${safeDescription(error.description)}"${scope}`,
    );
  }
  return reply.type('application/json; charset=utf-8').send({ error: error.error, error_description: safeDescription(error.description) });
}

/**
 * RFC 6749 §5.2: error_description "MUST NOT include characters outside the set %x20-21 / %x23-5B /
 * %x5D-7E". Descriptions quote names and may echo request values, so `"` becomes `'` and anything
 * else outside the set (backslash, controls, non-ASCII) becomes `?`.
 */
function safeDescription(description: string): string {
  return description.replace(/"/g, "'").replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/gu, '?');
}
