// An orders API on Fastify that accepts Latchkey access tokens.
//
//   npx latchkey resources create --identifier https://api.example.com --scopes orders:read,orders:write
//   LATCHKEY_ISSUER=http://localhost:9000 node --import tsx packages/resource-server/examples/fastify-orders-api.ts
//   curl -H "Authorization: Bearer $TOKEN" http://localhost:3000/orders
//
// Opaque tokens (lko_...) are introspected when INTROSPECTION_CLIENT_ID and _SECRET name a client
// registered with --introspect-for https://api.example.com; JWTs are validated locally.
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { createIntrospector, createValidator, type AccessTokenClaims } from '@latchkey/resource-server';
import { bearerAuth, requireScopes } from '@latchkey/resource-server/fastify';

export interface OrdersApiOptions {
  issuer: string;
  audience: string;
  introspection?: { clientId: string; clientSecret: string };
}

export function ordersApi(options: OrdersApiOptions) {
  const validator = createValidator({ issuer: options.issuer, audience: options.audience });
  const introspector = options.introspection && createIntrospector({ issuer: options.issuer, audience: options.audience, ...options.introspection });
  const verify = (token: string): Promise<AccessTokenClaims> =>
    introspector && token.startsWith('lko_') ? introspector.introspect(token) : validator.validate(token);

  const app = Fastify();
  const auth = bearerAuth(verify, { realm: 'orders' });
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
  const { INTROSPECTION_CLIENT_ID: clientId, INTROSPECTION_CLIENT_SECRET: clientSecret } = process.env;
  const app = ordersApi({
    issuer: process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000',
    audience: process.env.API_AUDIENCE ?? 'https://api.example.com',
    ...(clientId && clientSecret ? { introspection: { clientId, clientSecret } } : {}),
  });
  await app.listen({ port: Number(process.env.PORT ?? 3000) });
  console.log(`orders API on http://localhost:${process.env.PORT ?? 3000}`);
}
