// An orders API as a fetch handler, `(request: Request) => Promise<Response>`: what Deno.serve,
// Bun.serve, Hono, Cloudflare Workers and Next.js route handlers take.
//
//   Deno:  Deno.serve(ordersHandler({ issuer, audience }))
//   Bun:   Bun.serve({ fetch: ordersHandler({ issuer, audience }) })
import { createValidator } from '@latchkey/resource-server';
import { requireScopes, withBearerAuth } from '@latchkey/resource-server/fetch';

export function ordersHandler(options: { issuer: string; audience: string }): (request: Request) => Promise<Response> {
  const validator = createValidator(options);
  const list = withBearerAuth(
    validator,
    requireScopes('orders:read')(async (_request, auth) => Response.json({ orders: [{ id: 1, item: 'tea' }], for: auth.sub })),
    { realm: 'orders' },
  );
  const place = withBearerAuth(
    validator,
    requireScopes('orders:write')(async (_request, auth) => Response.json({ id: 2, placedBy: auth.sub }, { status: 201 })),
    { realm: 'orders' },
  );
  return async (request) => {
    if (new URL(request.url).pathname !== '/orders') return new Response('not found', { status: 404 });
    return request.method === 'POST' ? place(request) : list(request);
  };
}
