import type { Duplex } from 'node:stream';
import { DPOP_DEFAULTS, type DpopMode, type ErrorReply } from '@latchkey/resource-server';
import type { Outcome } from './metrics.ts';

/** A request the gateway answers itself instead of forwarding. */
export interface Rejection {
  status: number;
  headers: Record<string, string>;
  body: string;
  outcome: Outcome;
  /** The `reason` label of latchkey_gateway_denials_total, for refusals. */
  reason: string | undefined;
}

/** A JSON error body in the RFC 6749 §5.2 shape, which Latchkey uses for every error. */
export function rejection(
  status: number,
  outcome: Outcome,
  error: string,
  description: string,
  options: { headers?: Record<string, string>; reason?: string } = {},
): Rejection {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...options.headers },
    body: JSON.stringify({ error, error_description: description }),
    outcome,
    reason: options.reason,
  };
}

/**
 * Errors Node's HTTP parser meets before the gateway sees a request (headers too large, too slow,
 * malformed), in the same JSON shape as the gateway's other refusals; the connection then closes.
 */
export function clientErrorReply(error: { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, text, description] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'the request did not arrive in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
        : [400, 'Bad Request', 'malformed request'];
  // RFC 9110 §9.3.2: the answer to a HEAD request has no content.
  const head = Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  const body = head ? '' : JSON.stringify({ error: 'invalid_request', error_description: description });
  // The parser can fail after a request was dispatched and answered (Node 24: a body framed by a
  // Transfer-Encoding other than chunked); a second answer would then follow the first on the wire,
  // read as the first one's content (RFC 9112 §6.3 only asks that the connection be closed).
  if (socket.writable && !answerStarted(socket)) {
    socket.write(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** A refusal worded by @latchkey/resource-server (RFC 6750 §3), as a rejection. */
export function rejectionFromReply(reply: ErrorReply, outcome: Outcome, reason: string): Rejection {
  return { status: reply.status, headers: reply.headers, body: reply.body === undefined ? '' : JSON.stringify(reply.body), outcome, reason };
}

/**
 * RFC 6750 §3 challenge for refusals that come after the token was accepted (token exchange): the
 * same words and headers the resource-server package uses for its own, `resource_metadata` (RFC 9728
 * §5.1) included when the route has metadata, and the DPoP challenge with `algs` where the route takes
 * DPoP (RFC 9449 §7.1); the error goes in the challenge of the scheme the request used.
 */
export function challengeHeaders(
  challenge: { realm: string; resourceMetadata: string | undefined; dpop: DpopMode },
  error: string,
  description: string,
  scope: readonly string[] | undefined,
  scheme: 'bearer' | 'dpop',
): Record<string, string> {
  const offered: ('bearer' | 'dpop')[] = challenge.dpop === 'required' ? ['dpop'] : challenge.dpop === 'disabled' ? ['bearer'] : ['bearer', 'dpop'];
  const erring = offered.includes(scheme) ? scheme : offered[0];
  const value = offered
    .map((s) => {
      const params = [`realm="${challenge.realm}"`];
      if (s === erring) params.push(`error="${error}"`, `error_description="${description}"`);
      if (scope !== undefined && scope.length > 0) params.push(`scope="${scope.join(' ')}"`);
      if (challenge.resourceMetadata !== undefined) params.push(`resource_metadata="${challenge.resourceMetadata}"`);
      if (s === 'dpop') params.push(`algs="${DPOP_DEFAULTS.algorithms.join(' ')}"`);
      return `${s === 'dpop' ? 'DPoP' : 'Bearer'} ${params.join(', ')}`;
    })
    .join(', ');
  if (challenge.resourceMetadata === undefined) return { 'www-authenticate': value };
  return { 'www-authenticate': value, 'access-control-expose-headers': 'WWW-Authenticate' };
}

/** Whether Node's HTTP server has already begun an answer on this socket (as its own default handler checks). */
function answerStarted(socket: object): boolean {
  const message = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  return message?.headersSent === true;
}
