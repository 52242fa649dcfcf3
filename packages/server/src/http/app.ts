import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { openIdConfiguration, serverMetadata } from '../endpoints/discovery.ts';
import { PATHS } from '../config/paths.ts';
import type { EndpointRequest } from '../endpoints/endpoint-request.ts';
import { introspectionEndpoint } from '../endpoints/introspect.ts';
import { pushedAuthorizationEndpoint } from '../endpoints/pushed-authorization.ts';
import { revocationEndpoint } from '../endpoints/revoke.ts';
import { tokenEndpoint } from '../endpoints/token.ts';
import { MissingBearerToken, userinfoEndpoint, usesDpopScheme } from '../endpoints/userinfo.ts';
import { DPOP_ALGORITHMS, dpopNonces } from '../dpop/proofs.ts';
import { registerBrowserRoutes } from './browser-routes.ts';
import { registerLogoutRoutes } from './logout-routes.ts';
import { registerDeviceRoutes } from './device-routes.ts';
import { registerAccountRoutes } from './account-routes.ts';
import { registerEmailRoutes } from './email-routes.ts';
import { registerSignupRoutes } from './signup-routes.ts';
import { registerHomeRoutes } from './home-routes.ts';
import { registerCors } from './cors.ts';
import { authorizationHeader, dpopHeaders } from './authorization-header.ts';
import { registerRegistrationRoutes } from './registration-routes.ts';
import { ADMIN_BASE, registerAdminRoutes } from './admin-routes.ts';
import { deviceAuthorizationEndpoint } from '../endpoints/device-authorization.ts';
import { InvalidRequest } from '../errors.ts';
import { clientErrorReply, sendError } from './error-reply.ts';
import { formBodyParser } from './form-body.ts';
import { sendErrorPage } from './page-reply.ts';
import { trustedProxies } from '../config/load.ts';
import { FormParams } from '../lib/form-params.ts';
import type { IssuerUrls } from '../config/issuer-urls.ts';
import { mtlsSettings, requestCertificate } from '../mtls/client-certificate.ts';
import { observeApp } from '../observability/observe-server.ts';

/** Fastify's trustProxy: the hops or proxies of LATCHKEY_TRUSTED_PROXIES, else LATCHKEY_TRUST_PROXY. */
function trustProxySetting(ctx: ServerContext): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (ctx.settings.trustedProxies === undefined) return ctx.settings.trustProxy;
  const trusted = trustedProxies(ctx.settings.trustedProxies);
  if (trusted === undefined) return false;
  // A hop count: the n proxies nearest to the server are believed, whatever their addresses.
  if (typeof trusted === 'number') return (_address, hop) => hop < trusted;
  return trusted;
}

/** How a listener is built: the main one, or the mutual-TLS one (RFC 8705 §5) with its TLS settings. */
export interface AppOptions {
  mtls?: boolean;
  https?: import('node:https').ServerOptions;
}

/** Builds the HTTP shell. Routes are thin: parse, call the endpoint function, serialise. */
export function buildApp(ctx: ServerContext, options: AppOptions = {}): FastifyInstance {
  // The URLs requests to this listener are addressed to: the issuer's, or the mutual-TLS aliases'.
  const addressed = options.mtls ? (mtlsSettings(ctx.settings).urls ?? ctx.urls) : ctx.urls;
  const { settings } = ctx;
  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    loggerInstance: ctx.logger as FastifyBaseLogger,
    bodyLimit: settings.bodyLimitBytes,
    // A list of proxies (or hops) when configured; else all or nothing (LATCHKEY_TRUST_PROXY).
    trustProxy: trustProxySetting(ctx),
    return503OnClosing: true,
    // Slow clients cannot hold connections: the request line and headers, and the whole request, each
    // have a time limit (408 and the connection closes), checked every second rather than Node's
    // default 30 s; the body has its own (http/form-body.ts).
    http: { headersTimeout: settings.headersTimeoutSeconds * 1000, connectionsCheckingInterval: 1000 },
    requestTimeout: settings.requestTimeoutSeconds * 1000,
    keepAliveTimeout: settings.keepAliveTimeoutSeconds * 1000,
    // Node's header timeout only starts with the first byte of a request: a connection that never
    // sends one is closed by this idle limit instead (lifted for each request below; between
    // requests Node applies the keep-alive timeout).
    connectionTimeout: settings.headersTimeoutSeconds * 1000,
    clientErrorHandler: clientErrorReply,
    // A path Fastify cannot even decode (`/%zz`) gets the same error shape as everything else.
    frameworkErrors: (error, request, reply) => sendError(new InvalidRequest('the request path is malformed', error.message), request, reply),
  });
  // Request metrics and spans, when LATCHKEY_METRICS_* or LATCHKEY_OTLP_ENDPOINT ask for them.
  observeApp(app, ctx, { main: !options.mtls });
  app.addHook('onRequest', async (request) => {
    // (An injected test request's socket has no timers.)
    request.raw.socket.setTimeout?.(0);
  });

  // Only form bodies are parsed; any other media type is refused by Fastify and mapped to invalid_request.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', formBodyParser(settings.bodyLimitBytes, settings.bodyTimeoutSeconds * 1000));

  const prefix = ctx.urls.pathPrefix;
  // The operator's look, for every page this app sends (http/page-reply.ts sendPage).
  app.decorate('latchkeyBranding', { theme: ctx.theme, assetsPath: `${prefix}/assets`, languages: ctx.languages });
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).type('application/json; charset=utf-8').send({ error: 'not_found', error_description: 'no such endpoint' });
  });
  registerCors(app, ctx);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ok = await ctx.storage.ping();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'database unavailable' });
  });
  // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
  app.get(`/.well-known/oauth-authorization-server${prefix}`, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(await serverMetadata(ctx)),
  );
  // An issuer with a path also has its OpenID Connect document where RFC 8414 §3.1 would put it: MCP
  // clients try it there before OIDC Discovery §4's own place (`{path}/.well-known/openid-configuration`,
  // registerDocuments). Without a path both are one URL.
  if (prefix !== '') {
    app.get(`/.well-known/openid-configuration${prefix}`, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').send(await openIdConfiguration(ctx)),
    );
  }

  // Every other route is under the issuer's path.
  app.register(async (documents) => registerDocuments(documents, ctx), { prefix });
  app.register(async (protocol) => registerProtocolEndpoints(protocol, ctx, addressed), { prefix });
  // RFC 7591 and RFC 7592: JSON in and out, in a scope of its own (its own body parser and limit).
  app.register(async (registration) => registerRegistrationRoutes(registration, ctx), { prefix });
  // The admin API (docs/admin-api.md): JSON, problem details, its own scope under the issuer's path.
  app.register(async (admin) => registerAdminRoutes(admin, ctx), { prefix: `${prefix}${ADMIN_BASE}` });
  app.register(
    async (pages) => {
      // The pages a person sees answer errors with a page; every other endpoint with RFC 6749 JSON.
      pages.setErrorHandler((error, request, reply) => sendErrorPage(request, reply, error, `${prefix}/assets`));
      registerBrowserRoutes(pages, ctx);
      registerLogoutRoutes(pages, ctx);
      registerDeviceRoutes(pages, ctx);
      registerAccountRoutes(pages, ctx);
      registerEmailRoutes(pages, ctx);
      registerSignupRoutes(pages, ctx);
      registerHomeRoutes(pages, ctx);
    },
    { prefix },
  );
  return app;
}

/** Public documents: discovery and the JWKS, cacheable for five minutes. */
function registerDocuments(app: FastifyInstance, ctx: ServerContext): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode === 200) reply.header('cache-control', 'public, max-age=300');
    return payload;
  });
  // OIDC Discovery §4: the issuer's path followed by /.well-known/openid-configuration.
  app.get('/.well-known/openid-configuration', async () => openIdConfiguration(ctx));
  app.get(PATHS.jwks, async (_request, reply) => reply.type('application/jwk-set+json; charset=utf-8').send(await ctx.keys.jwks()));
}

/** The protocol endpoints: form bodies in, JSON out, never cached (RFC 6749 §5.1, RFC 7662 §2.2). */
function registerProtocolEndpoints(app: FastifyInstance, ctx: ServerContext, urls: IssuerUrls): void {
  app.addHook('onRequest', async (_request, reply) => {
    // RFC 6749 §5.1: Cache-Control: no-store and Pragma: no-cache on every token response, and on
    // every other answer carrying tokens or their state.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  });
  // RFC 9449 §8: with server nonces on, every answer to a request that carried a DPoP proof names the
  // nonce to use next (`DPoP-Nonce`), the use_dpop_nonce error included.
  const nonces = dpopNonces(ctx);
  if (nonces) {
    app.addHook('onSend', async (request, reply, payload) => {
      if (request.headers.dpop !== undefined) reply.header('dpop-nonce', nonces.current());
      return payload;
    });
  }

  app.post(PATHS.token, async (request) => tokenEndpoint(ctx, endpointRequest(request, ctx, urls)));
  app.post(PATHS.introspection, async (request) => introspectionEndpoint(ctx, endpointRequest(request, ctx, urls)));
  app.post(PATHS.revocation, async (request, reply) => {
    await revocationEndpoint(ctx, endpointRequest(request, ctx, urls));
    // RFC 7009 §2.2: "The content of the response body is ignored by the client"; 200 with nothing.
    return reply.code(200).send();
  });
  // RFC 8628 §3.1: the device authorization endpoint takes POST with a form body.
  app.post(PATHS.deviceAuthorization, async (request) => deviceAuthorizationEndpoint(ctx, endpointRequest(request, ctx, urls)));
  // RFC 9126 §2.2: "the server MUST generate a request URI and provide it in the response with a 201 HTTP status code".
  app.post(PATHS.pushedAuthorization, async (request, reply) => reply.code(201).send(await pushedAuthorizationEndpoint(ctx, endpointRequest(request, ctx, urls))));

  // OIDC Core §5.3.1: the UserInfo endpoint takes GET and POST.
  app.route({
    method: ['GET', 'POST'],
    url: PATHS.userinfo,
    handler: async (request, reply) => {
      const body = request.body instanceof FormParams ? request.body : undefined;
      try {
        return await userinfoEndpoint(ctx, {
          authorization: authorizationHeader(request),
          bodyToken: body?.get('access_token'),
          method: request.method,
          dpop: dpopHeaders(request),
          certificate: requestCertificate(request, ctx.settings),
          urls,
        });
      } catch (err) {
        // RFC 6750 §3.1: no credentials at all is a bare challenge, without an error code; RFC 9449
        // §7.1: both schemes are accepted, so both are offered.
        if (err instanceof MissingBearerToken) {
          return reply.code(401).header('www-authenticate', `Bearer realm="latchkey", DPoP algs="${DPOP_ALGORITHMS.join(' ')}"`).send();
        }
        throw err;
      }
    },
    errorHandler: (error, request, reply) =>
      sendError(error, request, reply, { challenge: { scheme: usesDpopScheme(request.headers.authorization) ? 'dpop' : 'bearer', dpopAlgs: DPOP_ALGORITHMS } }),
  });

  // OAuth 2.1 §3.2 (token), RFC 7662 §2.1, RFC 7009 §2.1, RFC 9126 §2.3 (405): these endpoints take POST only.
  for (const path of [PATHS.token, PATHS.introspection, PATHS.revocation, PATHS.deviceAuthorization, PATHS.pushedAuthorization]) {
    app.route({
      method: ['GET', 'PUT', 'DELETE', 'PATCH'],
      url: path,
      handler: async (_request, reply) =>
        reply.code(405).header('allow', 'POST').send({ error: 'invalid_request', error_description: 'this endpoint accepts POST only' }),
    });
  }
}

function endpointRequest(request: FastifyRequest, ctx: ServerContext, urls: IssuerUrls): EndpointRequest {
  if (!(request.body instanceof FormParams)) {
    // RFC 6749 §3.2: parameters are sent "using the application/x-www-form-urlencoded format".
    throw new InvalidRequest('the request body must be application/x-www-form-urlencoded');
  }
  const query = request.query as Record<string, unknown> | undefined;
  return {
    params: request.body,
    authorization: authorizationHeader(request),
    queryNames: query ? Object.keys(query) : [],
    dpop: dpopHeaders(request),
    certificate: requestCertificate(request, ctx.settings),
    urls,
  };
}
