// An orders API on Express that accepts Latchkey access tokens.
//
//   LATCHKEY_ISSUER=http://localhost:9000 node --import tsx packages/resource-server/examples/express-orders-api.ts
//   curl -H "Authorization: Bearer $TOKEN" http://localhost:3000/orders
import { pathToFileURL } from 'node:url';
import express from 'express';
import { createValidator } from '@latchkey/resource-server';
import { bearerAuth, requireScopes } from '@latchkey/resource-server/express';

export function ordersApi(options: { issuer: string; audience: string }) {
  const app = express();
  const auth = bearerAuth(createValidator(options), { realm: 'orders' });
  app.get('/orders', auth, requireScopes('orders:read'), (req, res) => {
    res.json({ orders: [{ id: 1, item: 'tea' }], for: req.auth.sub });
  });
  app.post('/orders', auth, requireScopes('orders:write'), (_req, res) => {
    res.status(201).json({ id: 2, placedBy: res.locals.auth.sub });
  });
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3000);
  ordersApi({
    issuer: process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000',
    audience: process.env.API_AUDIENCE ?? 'https://api.example.com',
  }).listen(port, () => console.log(`orders API on http://localhost:${port}`));
}
