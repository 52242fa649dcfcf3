import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { PATHS } from '../config/paths.ts';

/**
 * CORS for browser-based applications (OAuth 2.0 for Browser-Based Apps: a public client running in
 * the page calls the token endpoint itself). Metadata and the JWKS are public: any origin may read
 * them. The token, revocation, userinfo and device authorization endpoints answer only the origins of
 * registered redirect URIs, without credentials (no cookies cross). The authorization endpoint and
 * the pages never send CORS headers (RFC 9700 §2.6, docs/security.md A10), nor does introspection, which is
 * for servers.
 */
export function registerCors(app: FastifyInstance, ctx: ServerContext): void {
  const issuerPath = ctx.urls.pathPrefix;
  const open = new Set([`${issuerPath}${PATHS.jwks}`, `${issuerPath}/.well-known/openid-configuration`]);
  const methods = new Map<string, string>([
    [`${issuerPath}${PATHS.token}`, 'POST'],
    [`${issuerPath}${PATHS.revocation}`, 'POST'],
    [`${issuerPath}${PATHS.deviceAuthorization}`, 'POST'],
    [`${issuerPath}${PATHS.userinfo}`, 'GET, POST'],
  ]);
  const pathOf = (request: FastifyRequest) => request.url.split('?')[0] ?? '';

  const isOpen = (path: string) => open.has(path) || path.startsWith('/.well-known/oauth-authorization-server');

  const allowedOrigin = async (request: FastifyRequest): Promise<string | undefined> => {
    const origin = request.headers.origin;
    if (typeof origin !== 'string' || origin.length > 300) return undefined;
    return (await ctx.storage.clients.redirectOrigins()).has(origin) ? origin : undefined;
  };

  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const path = pathOf(request);
    if (isOpen(path)) {
      reply.header('access-control-allow-origin', '*');
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
      return reply.code(204).header('access-control-allow-methods', 'GET').header('access-control-max-age', '600').send();
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
