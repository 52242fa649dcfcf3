import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { PATHS } from '../config/paths.ts';
import { InvalidRequest } from '../errors.ts';
import { InvalidClientMetadata, TooManyRegistrations } from '../registration/errors.ts';
import { deleteRegistration, readRegistration, updateRegistration } from '../registration/manage.ts';
import { registerClient } from '../registration/register.ts';
import { sendError } from './error-reply.ts';
import { authorizationHeader } from './authorization-header.ts';

/** Largest registration or update body: client metadata is small; 16 KiB holds ten long redirect URIs and a JWKS. */
export const REGISTRATION_BODY_LIMIT_BYTES = 16 * 1024; // 16 KiB

/** A JSON body as read, before it is parsed (so a malformed one is answered in the RFC's terms). */
class JsonText {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }
}

/**
 * RFC 7591 §3 registration endpoint and RFC 7592 client configuration endpoint, under the issuer:
 * `POST /register` (when LATCHKEY_REGISTRATION is not `off`), and `GET`, `PUT`, `DELETE
 * /register/{client_id}`. They take JSON, unlike every other endpoint, and every answer is JSON and
 * never cached (RFC 7591 §3.2.1, §3.2.2: Cache-Control: no-store, Pragma: no-cache).
 */
export function registerRegistrationRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // RFC 7591 §3: "a content type of application/json"; bounded well below the server's own limit.
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: REGISTRATION_BODY_LIMIT_BYTES }, (_request, text, done) =>
    done(null, new JsonText(text as string)),
  );
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  });
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof TooManyRegistrations) reply.header('retry-after', String(error.retryAfterSeconds));
    // Any other media type: what was sent is not client metadata.
    const code = (error as { code?: string }).code;
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_EMPTY_TYPE') {
      // A delete (RFC 7592 §2.3) carries no metadata: its body is a malformed request. (A read's body
      // is never parsed.)
      if (request.method === 'DELETE') {
        return sendError(new InvalidRequest('this request takes no body'), request, reply);
      }
      return sendError(new InvalidClientMetadata('the request body must be application/json'), request, reply);
    }
    return sendError(error, request, reply);
  });

  const base = PATHS.registration;
  if (ctx.settings.registration !== 'off') {
    app.post(base, { bodyLimit: REGISTRATION_BODY_LIMIT_BYTES }, async (request, reply) => {
      const body = jsonBody(request);
      const information = await registerClient(ctx, { authorization: authorizationHeader(request), body, address: request.ip });
      // RFC 7591 §3.2.1: "HTTP 201 Created".
      return reply.code(201).type('application/json; charset=utf-8').send(information);
    });
    notAllowed(app, base, 'POST');
  }

  const clientUri = `${base}/:clientId`;
  const managed = (request: FastifyRequest) => ({ clientId: (request.params as { clientId: string }).clientId, authorization: authorizationHeader(request) });
  app.get(clientUri, async (request, reply) => reply.type('application/json; charset=utf-8').send(await readRegistration(ctx, managed(request))));
  app.put(clientUri, { bodyLimit: REGISTRATION_BODY_LIMIT_BYTES }, async (request, reply) => {
    const body = jsonBody(request);
    return reply.type('application/json; charset=utf-8').send(await updateRegistration(ctx, { ...managed(request), body }));
  });
  app.delete(clientUri, async (request, reply) => {
    await deleteRegistration(ctx, managed(request));
    // RFC 7592 §2.3: "the authorization server responds with an HTTP 204 No Content message".
    return reply.code(204).send();
  });
  notAllowed(app, clientUri, 'GET, PUT, DELETE');
}

/** The request's JSON body; anything else is `invalid_client_metadata`. */
function jsonBody(request: FastifyRequest): unknown {
  if (!(request.body instanceof JsonText)) throw new InvalidClientMetadata('the request body must be application/json');
  try {
    return JSON.parse(request.body.text) as unknown;
  } catch {
    throw new InvalidClientMetadata('the request body is not valid JSON');
  }
}

/** 405 with Allow for the methods a path does not take. */
function notAllowed(app: FastifyInstance, url: string, allow: string): void {
  const taken = allow.split(', ');
  const others = (['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const).filter((m) => !taken.includes(m));
  app.route({
    method: others,
    url,
    handler: async (_request, reply: FastifyReply) =>
      reply.code(405).header('allow', allow).send({ error: 'invalid_request', error_description: `this endpoint accepts ${allow} only` }),
  });
}
