import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { PATHS } from '../config/paths.ts';

/**
 * CORS for browser-based applications (OAuth 2.0 for Browser-Based Apps: a public client running in
 * the page calls the token endpoint itself). Metadata and the JWKS are public: any origin may read
 * them. The token, revocation, userinfo, device authorization and pushed authorization request
 * endpoints answer only the origins of registered redirect URIs, without credentials (no cookies cross). The registration endpoint and
 * the registration management URIs (RFC 7591, RFC 7592) answer any origin, without credentials: a
 * client registers before any origin of its is known. The authorization endpoint and
 * the pages never send CORS headers (RFC 9700 §2.6, docs/security.md A10), nor does introspection, which is
 * for servers.
 */
export function registerCors(app: FastifyInstance, ctx: ServerContext): void {
  const issuerPath = ctx.urls.pathPrefix;
  // Every place the metadata is served (http/app.ts): RFC 8414 §3.1's and both of OpenID Connect's.
  const open = new Set([`${issuerPath}${PATHS.jwks}`, `${issuerPath}/.well-known/openid-configuration`, `/.well-known/openid-configuration${issuerPath}`]);
  const methods = new Map<string, string>([
    [`${issuerPath}${PATHS.token}`, 'POST'],
    [`${issuerPath}${PATHS.revocation}`, 'POST'],
    [`${issuerPath}${PATHS.deviceAuthorization}`, 'POST'],
    [`${issuerPath}${PATHS.pushedAuthorization}`, 'POST'],
    [`${issuerPath}${PATHS.userinfo}`, 'GET, POST'],
  ]);
  const pathOf = (request: FastifyRequest) => request.url.split('?')[0] ?? '';

  const isOpen = (path: string) => open.has(path) || path.startsWith('/.well-known/oauth-authorization-server');
  const registration = `${issuerPath}${PATHS.registration}`;
  /** The methods of a registration path (RFC 7591 §3, RFC 7592 §2), or undefined for any other path. */
  const registrationMethods = (path: string) =>
    path === registration ? 'POST' : path.startsWith(`${registration}/`) && !path.slice(registration.length + 1).includes('/') ? 'GET, PUT, DELETE' : undefined;

  const allowedOrigin = async (request: FastifyRequest): Promise<string | undefined> => {
    const origin = request.headers.origin;
    if (typeof origin !== 'string' || origin.length > 300) return undefined;
    return (await ctx.storage.clients.redirectOrigins()).has(origin) ? origin : undefined;
  };

  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const path = pathOf(request);
    if (isOpen(path)) {
      reply.header('access-control-allow-origin', '*');
    } else if (registrationMethods(path) !== undefined) {
      reply.header('access-control-allow-origin', '*');
      reply.header('access-control-expose-headers', 'WWW-Authenticate, Retry-After');
    } else if (methods.has(path) && request.headers.origin !== undefined) {
      reply.header('vary', 'Origin');
      const origin = await allowedOrigin(request);
      if (origin) {
        reply.header('access-control-allow-origin', origin);
        reply.header('access-control-expose-headers', 'WWW-Authenticate, DPoP-Nonce');
      }
    }
    return payload;
  });

  // Preflight requests (Fetch standard §3.2.2).
  app.options('/*', async (request, reply) => {
    const path = pathOf(request);
    const allowed = methods.get(path);
    if (isOpen(path)) {
      // Any request header (MCP clients send MCP-Protocol-Version): these are public documents, read
      // without credentials, for which the Fetch standard lets `*` mean every header.
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET')
        .header('access-control-allow-headers', '*')
        .header('access-control-max-age', '600')
        .send();
    }
    const registering = registrationMethods(path);
    if (registering !== undefined) {
      return reply
        .code(204)
        .header('access-control-allow-origin', '*')
        .header('access-control-allow-methods', registering)
        .header('access-control-allow-headers', 'Authorization, Content-Type')
        .header('access-control-max-age', '600')
        .send();
    }
    if (!allowed) return reply.code(404).send({ error: 'not_found', error_description: 'no such endpoint' });
    const origin = await allowedOrigin(request);
    reply.code(204).header('vary', 'Origin');
    if (!origin) return reply.send();
    return reply
      .header('access-control-allow-methods', allowed)
      .header('access-control-allow-headers', 'Authorization, Content-Type, DPoP')
      .header('access-control-max-age', '600')
      .send();
  });
}
