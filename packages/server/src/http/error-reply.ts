import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  InsufficientScope,
  InvalidClient,
  InvalidRequest,
  InvalidToken,
  OAuthError,
  PayloadTooLarge,
  RequestTimeout,
  ServerError,
  safeDescription,
  ServiceUnavailable,
} from '../errors.ts';
import { DatabaseUnavailable } from '../storage/unavailable.ts';
import { recordErrorAnswer } from '../observability/request-hooks.ts';

/** Fastify's own request errors that are the caller's fault, mapped to OAuth errors. */
function fromFastifyError(error: { code?: string; statusCode?: number; message?: string }): OAuthError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge('the request body is too large');
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
export function sendError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  options: { challenge?: Challenge } = {},
): FastifyReply {
  const oauth = asOAuthError(error);
  if (!oauth || !oauth.expose) {
    request.log.error({ err: error }, 'request failed');
    recordErrorAnswer(request, 'server_error');
    return send(reply, new ServerError('the server could not handle the request'), options.challenge);
  }
  if (oauth instanceof ServiceUnavailable) request.log.warn({ err: error }, 'database unavailable: answered 503');
  else request.log.info({ error: oauth.error, detail: oauth.detail ?? oauth.description }, 'request refused');
  recordErrorAnswer(request, oauth.error);
  return send(reply, oauth, options.challenge);
}

/**
 * The challenge of a protected resource (userinfo) that accepts both schemes: the error goes in the
 * challenge of the scheme the request used, `Bearer` (RFC 6750 §3) or `DPoP` (RFC 9449 §7.1, with
 * `algs`). A Bearer challenge is followed by a bare `DPoP algs="..."` one, so that a client that
 * presented a DPoP-bound token as Bearer learns which scheme to use (RFC 9449 §7.2).
 */
export interface Challenge {
  scheme: 'bearer' | 'dpop';
  dpopAlgs: readonly string[];
}

/** Any error as the OAuth error it is answered with, or undefined for the unexpected (a 500). */
export function asOAuthError(error: unknown): OAuthError | undefined {
  if (error instanceof OAuthError) return error;
  // A database that is down, frozen or locked (translated where the database is called,
  // storage/unavailable.ts): 503 with Retry-After, never a hang or a 500.
  if (error instanceof DatabaseUnavailable) return new ServiceUnavailable('the service is temporarily unavailable; try again shortly');
  return fromFastifyError(error as { code?: string });
}

/** `challenge`: the endpoint is a protected resource (userinfo), so every error carries a challenge. */
function send(reply: FastifyReply, error: OAuthError, challenge?: Challenge): FastifyReply {
  reply.code(error.status).header('cache-control', 'no-store').header('pragma', 'no-cache');
  if (error instanceof ServiceUnavailable) reply.header('retry-after', String(error.retryAfterSeconds));
  // The rest of a body that was too large or too slow is never read: the connection cannot carry
  // another request, so it closes after this answer.
  if (error instanceof PayloadTooLarge || error instanceof RequestTimeout) reply.header('connection', 'close');
  // RFC 6749 §5.2: a 401 for a client that used the Authorization header MUST carry WWW-Authenticate
  // with that scheme; RFC 9110 §15.5.2 wants the header on every 401, so it is always sent.
  if (error instanceof InvalidClient) reply.header('www-authenticate', 'Basic realm="latchkey", charset="UTF-8"');
  // RFC 6750 §3: a protected resource (userinfo) answers with a Bearer challenge naming the error, a
  // malformed request (400 invalid_request, §3.1) included.
  const scope = error instanceof InsufficientScope ? `, scope="${error.scope}"` : '';
  const params = `error="${error.error}", error_description="${safeDescription(error.description)}"${scope}`;
  if (challenge?.scheme === 'dpop') {
    reply.header('www-authenticate', `DPoP algs="${challenge.dpopAlgs.join(' ')}", ${params}`);
  } else if (challenge !== undefined) {
    reply.header('www-authenticate', `Bearer realm="latchkey", ${params}, DPoP algs="${challenge.dpopAlgs.join(' ')}"`);
  } else if (error instanceof InvalidToken || error instanceof InsufficientScope) {
    reply.header('www-authenticate', `Bearer realm="latchkey", ${params}`);
  }
  return reply.type('application/json; charset=utf-8').send({ error: error.error, error_description: safeDescription(error.description) });
}


/**
 * Errors Node's HTTP parser meets before any route runs (headers too large, too slow, malformed), in
 * the same JSON shape as every other error; the connection then closes. Replaces Fastify's default,
 * whose body has another shape.
 */
export function clientErrorReply(error: { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let description = 'malformed request';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    description = 'the request did not arrive in time';
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    description = 'the request headers are too large';
  }
  // RFC 9110 §9.3.2: the answer to a HEAD request has no content.
  const head = Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  const body = head ? '' : JSON.stringify({ error: 'invalid_request', error_description: description });
  // The parser can fail after a request was dispatched and answered (Node 24: a body framed by a
  // Transfer-Encoding other than chunked); a second answer would then follow the first on the wire,
  // read as the first one's content (RFC 9112 §6.3 only asks that the connection be closed).
  if (socket.writable && !answerStarted(socket)) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** Whether Node's HTTP server has already begun an answer on this socket (as its own default handler checks). */
function answerStarted(socket: object): boolean {
  const message = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  return message?.headersSent === true;
}
