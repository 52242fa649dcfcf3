import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { InvalidRequest, PayloadTooLarge, RequestTimeout } from '../errors.ts';
import { FormParams } from '../lib/form-params.ts';

/**
 * The `application/x-www-form-urlencoded` body parser (RFC 6749 §3.2: the only body any endpoint
 * takes), with two bounds: at most `limitBytes` (413), and the whole body within `timeoutMs` of the
 * headers (408), so a client that sends one byte every few seconds cannot hold a connection open.
 * Node's own request timeout bounds headers and body together (http/app.ts).
 */
export function formBodyParser(limitBytes: number, timeoutMs: number) {
  return (_request: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: FormParams) => void): void => {
    const declared = payload.headers['content-length'];
    if (declared !== undefined && Number(declared) > limitBytes) {
      done(new PayloadTooLarge('the request body is too large'));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let finished = false;
    const finish = (err: Error | null, body?: FormParams) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      // What is left of a refused body is not read: the response closes the connection (error-reply.ts).
      if (err) payload.pause();
      done(err, body);
    };
    const timer = setTimeout(() => finish(new RequestTimeout('the request body did not arrive in time')), timeoutMs);
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) return finish(new PayloadTooLarge('the request body is too large'));
      chunks.push(chunk);
    };
    const onEnd = () => finish(null, new FormParams(Buffer.concat(chunks).toString('utf8')));
    // The client went away mid-body (or sent a broken one): nobody may be left to answer, but it is
    // the client's doing, not a server failure.
    const onError = () => finish(new InvalidRequest('the request body could not be read'));
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
  };
}
