import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { RegistryError } from '../errors.ts';
import { Registry } from '../registry/registry.ts';
import type { AccessTokenFormat, ClientProfile, ClientType, IdTokenAlgorithm, TokenEndpointAuthMethod } from '../registry/types.ts';
import { changesSomething, updateClientSettings } from '../registry/client-update.ts';
import { listSigningKeys, rotateSigningKeys, rotationAlgorithms } from '../keys/key-admin.ts';
import { SIGNING_ALGORITHMS } from '../keys/key-ring.ts';
import { DatabaseUnavailable } from '../storage/unavailable.ts';
import { authenticateAdmin } from '../admin/authenticate.ts';
import { JsonFields } from '../admin/json-body.ts';
import { adminOpenApiDocument } from '../admin/openapi.ts';
import { paginate } from '../admin/pagination.ts';
import { checkIfMatch, etagOf } from '../admin/preconditions.ts';
import {
  AdminProblem,
  BadRequest,
  Conflict,
  InsufficientAdminScope,
  NotFound,
  Unauthenticated,
  Unprocessable,
} from '../admin/problems.ts';
import { clientJson, exchangeJson, resourceJson } from '../admin/representations.ts';

/** Where the admin API is, under the issuer's path (docs/admin-api.md). */
export const ADMIN_BASE = '/admin/v1';

/** Largest request body: a client with ten redirect URIs and a JWKS fits in a few KiB. */
const ADMIN_BODY_LIMIT_BYTES = 64 * 1024; // 64 KiB

/** A route as registered: method and OpenAPI path template (`/admin/v1/clients/{clientId}`). */
export interface AdminRoute {
  method: string;
  path: string;
}

/** The admin routes each app registered, by its HTTP server (for the OpenAPI test). */
const registered = new WeakMap<object, AdminRoute[]>();

/** The admin routes `app` registered (HEAD excepted), as OpenAPI path templates. */
export function registeredAdminRoutes(app: FastifyInstance): AdminRoute[] {
  return [...(registered.get(app.server) ?? [])];
}

/**
 * The admin API (docs/admin-api.md): JSON in and out, in a scope of its own (JSON body parser, RFC
 * 9457 problem details for every error), each route calling the function the CLI command calls.
 * Register with the prefix `{issuer path}/admin/v1`.
 */
export function registerAdminRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const registry = new Registry(ctx.storage);
  const issuerPath = ctx.urls.pathPrefix;
  const routes: AdminRoute[] = registered.get(app.server) ?? [];
  registered.set(app.server, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      routes.push({ method, path: route.url.slice(issuerPath.length).replace(/:([A-Za-z]+)/g, '{$1}') });
    }
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: ADMIN_BODY_LIMIT_BYTES }, (_request, text, done) => {
    if ((text as string).trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text as string));
    } catch {
      done(new BadRequest('the request body is not valid JSON'), undefined);
    }
  });
  app.addHook('onRequest', async (_request, reply) => {
    // Answers carry configuration, and create and rotate answers a secret: never stored by a cache.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  });
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply));
  app.setNotFoundHandler((request, reply) => sendProblem(new NotFound(`no admin API endpoint ${request.method} ${request.url.split('?')[0]}`), request, reply));

  // Every route but the document needs a token for urn:latchkey:admin.
  const guarded = { preHandler: async (request: FastifyRequest) => void (await authenticateAdmin(ctx, request.headers.authorization, request.method)) };

  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(adminOpenApiDocument(ctx.settings.issuer)));

  // Resources (latchkey resources ...).
  app.get('/resources', guarded, async (request) => paginate((await registry.listResources()).map(resourceJson), (r) => r.identifier, query(request)));
  app.post('/resources', guarded, async (request, reply) => {
    const body = new JsonFields(request.body, ['identifier', 'name', 'scopes', 'scope_descriptions', 'default_scopes', 'open_scopes', 'access_token_ttl_seconds', 'access_token_format']);
    const scopes = body.strings('scopes') ?? [];
    const descriptions = body.raw('scope_descriptions') ?? {};
    if (typeof descriptions !== 'object' || descriptions === null || Array.isArray(descriptions) || !Object.values(descriptions).every((d) => typeof d === 'string')) {
      throw new BadRequest('scope_descriptions must be an object of scope to text', 'scope_descriptions');
    }
    const resource = await registry.createResource({
      identifier: body.string('identifier', true),
      name: body.string('name'),
      scopes: scopes.map((scope) => ({ scope, description: (descriptions as Record<string, string>)[scope] ?? '' })),
      defaultScopes: body.strings('default_scopes'),
      openScopes: body.strings('open_scopes'),
      accessTokenTtlSeconds: body.integer('access_token_ttl_seconds', true),
      accessTokenFormat: body.string('access_token_format') as AccessTokenFormat | undefined,
    });
    const json = resourceJson(resource);
    return sendCreated(reply, `${ADMIN_BASE}/resources/${encodeURIComponent(resource.identifier)}`, json, etagOf(json));
  });
  app.get('/resources/:identifier', guarded, async (request, reply) => sendOne(reply, resourceJson(await registry.getResource(param(request, 'identifier')))));
  app.patch('/resources/:identifier', guarded, async (request, reply) => {
    const identifier = param(request, 'identifier');
    checkIfMatch(request.headers['if-match'], etagOf(resourceJson(await registry.getResource(identifier))));
    const body = new JsonFields(request.body, ['default_scopes', 'open_scopes']);
    const defaultScopes = body.strings('default_scopes');
    const openScopes = body.strings('open_scopes');
    if (defaultScopes === undefined && openScopes === undefined) throw new BadRequest('give default_scopes or open_scopes');
    const resource = await registry.updateResourceScopes(identifier, {
      ...(defaultScopes !== undefined ? { defaultScopes } : {}),
      ...(openScopes !== undefined ? { openScopes } : {}),
    });
    return sendOne(reply, resourceJson(resource));
  });
  app.delete('/resources/:identifier', guarded, async (request, reply) => {
    const identifier = param(request, 'identifier');
    checkIfMatch(request.headers['if-match'], etagOf(resourceJson(await registry.getResource(identifier))));
    await registry.deleteResource(identifier);
    return reply.code(204).send();
  });

  // Clients (latchkey clients ...).
  const clientWithExchange = async (clientId: string) => {
    const client = await registry.getClient(clientId);
    return { ...clientJson(client), token_exchange: (await registry.tokenExchangePolicies(clientId)).map(exchangeJson) };
  };
  app.get('/clients', guarded, async (request) => paginate((await registry.listClients()).map(clientJson), (c) => c.client_id, query(request)));
  app.post('/clients', guarded, async (request, reply) => {
    const body = new JsonFields(request.body, CLIENT_CREATE_FIELDS);
    const { client, clientSecret } = await registry.createClient({
      name: body.string('name', true),
      type: body.string('type', true) as ClientType,
      clientId: body.string('client_id'),
      grantTypes: body.strings('grant_types') ?? [],
      scopes: body.strings('scopes') ?? [],
      audiences: body.strings('audiences'),
      tokenEndpointAuthMethod: body.string('token_endpoint_auth_method') as TokenEndpointAuthMethod | undefined,
      redirectUris: body.strings('redirect_uris'),
      postLogoutRedirectUris: body.strings('post_logout_redirect_uris'),
      firstParty: body.boolean('first_party'),
      idTokenSignedResponseAlg: body.string('id_token_signed_response_alg') as IdTokenAlgorithm | undefined,
      introspectFor: body.strings('introspect_for'),
      jwks: body.raw('jwks'),
      jwksUri: body.string('jwks_uri'),
      refreshGraceSeconds: body.integer('refresh_grace_seconds', true) ?? null,
      dpopBoundAccessTokens: body.boolean('dpop_bound_access_tokens'),
      tlsClientCertificateBoundAccessTokens: body.boolean('tls_client_certificate_bound_access_tokens'),
      requirePushedAuthorizationRequests: body.boolean('require_pushed_authorization_requests'),
      requireSecondFactor: body.boolean('require_second_factor'),
      requirePasskey: body.boolean('require_passkey'),
      ...(body.has('profile') ? { profile: body.string('profile') as ClientProfile } : {}),
    });
    const json = await clientWithExchange(client.clientId);
    // The secret is in this answer only: Latchkey keeps its hash.
    return sendCreated(reply, `${ADMIN_BASE}/clients/${encodeURIComponent(client.clientId)}`, { client_id: client.clientId, client_secret: clientSecret ?? null, client: json }, etagOf(json));
  });
  app.get('/clients/:clientId', guarded, async (request, reply) => sendOne(reply, await clientWithExchange(param(request, 'clientId'))));
  app.patch('/clients/:clientId', guarded, async (request, reply) => {
    const clientId = param(request, 'clientId');
    checkIfMatch(request.headers['if-match'], etagOf(await clientWithExchange(clientId)));
    const body = new JsonFields(request.body, ['refresh_grace_seconds', 'require_pushed_authorization_requests', 'require_second_factor', 'require_passkey', 'profile']);
    const change = {
      refreshGraceSeconds: body.integer('refresh_grace_seconds', true),
      requirePushedAuthorizationRequests: body.boolean('require_pushed_authorization_requests'),
      requireSecondFactor: body.boolean('require_second_factor'),
      requirePasskey: body.boolean('require_passkey'),
      profile: body.string('profile') as ClientProfile | undefined,
    };
    if (!changesSomething(change)) throw new BadRequest('give at least one of refresh_grace_seconds, require_pushed_authorization_requests, require_second_factor, require_passkey, profile');
    await updateClientSettings(registry, clientId, change);
    return sendOne(reply, await clientWithExchange(clientId));
  });
  app.delete('/clients/:clientId', guarded, async (request, reply) => {
    const clientId = param(request, 'clientId');
    checkIfMatch(request.headers['if-match'], etagOf(await clientWithExchange(clientId)));
    await registry.deleteClient(clientId);
    return reply.code(204).send();
  });
  app.post('/clients/:clientId/rotate-secret', guarded, async (request, reply) => {
    const clientId = param(request, 'clientId');
    new JsonFields(request.body ?? {}, []);
    const secret = await registry.rotateSecret(clientId);
    return reply.type('application/json; charset=utf-8').send({ client_id: clientId, client_secret: secret });
  });
  // RFC 8693 exchange policies: a part of the client, changed against the client's ETag.
  app.put('/clients/:clientId/token-exchange/:audience', guarded, async (request, reply) => {
    const clientId = param(request, 'clientId');
    checkIfMatch(request.headers['if-match'], etagOf(await clientWithExchange(clientId)));
    const body = new JsonFields(request.body, ['scopes']);
    const scopes = body.strings('scopes');
    if (scopes === undefined) throw new BadRequest('scopes is required', 'scopes');
    await registry.allowTokenExchange(clientId, param(request, 'audience'), scopes);
    return sendOne(reply, await clientWithExchange(clientId));
  });
  app.delete('/clients/:clientId/token-exchange/:audience', guarded, async (request, reply) => {
    const clientId = param(request, 'clientId');
    checkIfMatch(request.headers['if-match'], etagOf(await clientWithExchange(clientId)));
    await registry.disallowTokenExchange(clientId, param(request, 'audience'));
    return sendOne(reply, await clientWithExchange(clientId));
  });

  // Signing keys (latchkey keys ...).
  const findKey = async (kid: string) => {
    const key = (await listSigningKeys(ctx)).keys.find((k) => k.kid === kid);
    if (!key) throw new NotFound(`no key ${kid}`);
    // Its age is not part of its version: the ETag covers what a change could alter.
    const { age_seconds: _age, ...versioned } = key;
    return { key, etag: etagOf(versioned) };
  };
  app.get('/keys', guarded, async (request) => {
    const { keys, rotation_days } = await listSigningKeys(ctx);
    return { ...paginate(keys, (k) => k.kid, query(request)), rotation_days };
  });
  app.get('/keys/:kid', guarded, async (request, reply) => {
    const { key, etag } = await findKey(param(request, 'kid'));
    return reply.header('etag', etag).type('application/json; charset=utf-8').send(key);
  });
  app.post('/keys/rotate', guarded, async (request, reply) => {
    const body = new JsonFields(request.body ?? {}, ['alg', 'immediately']);
    const alg = body.string('alg') ?? 'all';
    const algs = rotationAlgorithms(alg);
    if (!algs) throw new Unprocessable(`alg must be one of ${SIGNING_ALGORITHMS.join(', ')} or all`, 'alg');
    return reply.type('application/json; charset=utf-8').send(await rotateSigningKeys(ctx, algs, { immediately: body.boolean('immediately') === true }));
  });
  app.delete('/keys/:kid', guarded, async (request, reply) => {
    const kid = param(request, 'kid');
    checkIfMatch(request.headers['if-match'], (await findKey(kid)).etag);
    const { alg, successor } = await ctx.keys.revoke(kid);
    return reply.type('application/json; charset=utf-8').send({ revoked: kid, alg, signs_now: successor ?? null });
  });
}

/** The fields `POST /clients` takes: those of `latchkey clients create`, named as in the client's JSON. */
const CLIENT_CREATE_FIELDS = [
  'name',
  'type',
  'client_id',
  'grant_types',
  'scopes',
  'audiences',
  'token_endpoint_auth_method',
  'redirect_uris',
  'post_logout_redirect_uris',
  'first_party',
  'id_token_signed_response_alg',
  'introspect_for',
  'jwks',
  'jwks_uri',
  'refresh_grace_seconds',
  'dpop_bound_access_tokens',
  'tls_client_certificate_bound_access_tokens',
  'require_pushed_authorization_requests',
  'require_second_factor',
  'require_passkey',
  'profile',
] as const;

function param(request: FastifyRequest, name: string): string {
  return (request.params as Record<string, string>)[name]!;
}

function query(request: FastifyRequest): { limit?: unknown; cursor?: unknown } {
  const q = (request.query ?? {}) as Record<string, unknown>;
  return { limit: q.limit, cursor: q.cursor };
}

/** One object, with its ETag (RFC 9110 §8.8.3), for a later If-Match. */
function sendOne(reply: FastifyReply, json: unknown): FastifyReply {
  return reply.header('etag', etagOf(json)).type('application/json; charset=utf-8').send(json);
}

/** RFC 9110 §15.3.2: 201 with the Location of what was created. */
function sendCreated(reply: FastifyReply, location: string, body: unknown, etag: string): FastifyReply {
  return reply.code(201).header('location', location).header('etag', etag).type('application/json; charset=utf-8').send(body);
}

/** Any error as RFC 9457 problem details; the unexpected is logged and answered 500 without detail. */
function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = asProblem(error);
  if (!problem) request.log.error({ err: error }, 'admin API request failed');
  const answer = problem ?? new AdminProblem(500, 'server-error', 'Internal error', 'the server could not handle the request');
  reply.code(answer.status).header('cache-control', 'no-store');
  // RFC 6750 §3: a protected resource's 401 and 403 carry a Bearer challenge naming the error.
  if (answer instanceof Unauthenticated) {
    const params = answer.error ? `, error="${answer.error}", error_description="${quoted(answer.message)}"` : '';
    reply.header('www-authenticate', `Bearer realm="latchkey-admin"${params}`);
  } else if (answer instanceof InsufficientAdminScope) {
    reply.header('www-authenticate', `Bearer realm="latchkey-admin", error="insufficient_scope", scope="${answer.scope}"`);
  } else if (answer.status === 503) {
    reply.header('retry-after', '5');
  }
  return reply.type('application/problem+json; charset=utf-8').send(answer.toJSON());
}

function asProblem(error: unknown): AdminProblem | undefined {
  if (error instanceof AdminProblem) return error;
  if (error instanceof RegistryError) {
    if (error.code === 'not_found') return new NotFound(error.message);
    if (error.code === 'conflict') return new Conflict(error.message);
    return new Unprocessable(error.message);
  }
  if (error instanceof DatabaseUnavailable) return new AdminProblem(503, 'unavailable', 'Service unavailable', 'the service is temporarily unavailable; try again shortly');
  const fastify = error as { code?: string; statusCode?: number };
  switch (fastify.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AdminProblem(413, 'too-large', 'Request body too large', `the request body is larger than ${ADMIN_BODY_LIMIT_BYTES} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_TYPE':
      return new AdminProblem(415, 'unsupported-media-type', 'Unsupported media type', 'the request body must be application/json');
  }
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) return new BadRequest('malformed request');
  return undefined;
}

/** An RFC 9110 §5.6.4 quoted-string's content: no quote or backslash. */
function quoted(text: string): string {
  return text.replace(/["\\]/g, "'");
}
