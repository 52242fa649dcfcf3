// An orders API on Fastify that publishes its protected resource metadata (RFC 9728): a client that
// knows only the API's URL (an MCP client, say) learns from the first 401 where the metadata is, and
// from the metadata which authorization server to ask, for which resource, with which scopes.
//
//   LATCHKEY_ISSUER=http://localhost:9000 node --import tsx packages/resource-server/examples/protected-resource-api.ts
//   curl -i http://localhost:3000/orders
//   curl -s http://localhost:3000/.well-known/oauth-protected-resource
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { createValidator } from '@latchkey/resource-server';
import { bearerAuth, protectedResourceMetadata, requireScopes } from '@latchkey/resource-server/fastify';

export function ordersApi(options: { issuer: string; resource: string }) {
  const app = Fastify();
  // Before the routes: the 401 of each route registered after it names the scopes the route needs.
  protectedResourceMetadata(app, {
    resource: options.resource, // the API's resource identifier at Latchkey: the tokens' aud
    authorizationServers: [options.issuer],
    scopesSupported: ['orders:read', 'orders:write'],
    resourceName: 'Orders API',
  });
  // resourceMetadata: true names https://<resource host>/.well-known/oauth-protected-resource<path>
  // in every challenge, derived from the validator's audience.
  const auth = bearerAuth(createValidator({ issuer: options.issuer, audience: options.resource }), { realm: 'orders', resourceMetadata: true });
  app.get('/orders', { preHandler: [auth, requireScopes('orders:read')] }, async (request) => ({
    orders: [{ id: 1, item: 'tea' }],
    for: request.auth.sub,
  }));
  app.post('/orders', { preHandler: [auth, requireScopes('orders:write')] }, async (request, reply) =>
    reply.code(201).send({ id: 2, placedBy: request.auth.sub }),
  );
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const app = ordersApi({
    issuer: process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000',
    resource: process.env.API_AUDIENCE ?? 'https://api.example.com',
  });
  await app.listen({ port: Number(process.env.PORT ?? 3000) });
  console.log(`orders API on http://localhost:${process.env.PORT ?? 3000}`);
}
