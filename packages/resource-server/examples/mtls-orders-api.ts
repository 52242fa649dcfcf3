// An orders API on Express that terminates TLS itself and asks for client certificates, so that
// certificate-bound tokens (RFC 8705 §3, `cnf.x5t#S256`) work: a token is accepted only on a
// connection that presents the certificate it is bound to.
//
//   TLS_CERT=server.pem TLS_KEY=server.key CLIENT_CA=clients-ca.pem LATCHKEY_ISSUER=https://auth.example.com \
//     node --import tsx packages/resource-server/examples/mtls-orders-api.ts
//   curl --cert client.pem --key client.key --cacert server.pem -H "Authorization: Bearer $TOKEN" https://localhost:3443/orders
import { readFileSync } from 'node:fs';
import { createServer, type ServerOptions } from 'node:https';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { createValidator } from '@latchkey/resource-server';
import { bearerAuth, requireScopes } from '@latchkey/resource-server/express';

export interface MtlsOrdersApiOptions {
  issuer: string;
  audience: string;
  /** The server's certificate and key (PEM), and the CA(s) of the client certificates it asks for. */
  tls: { cert: string; key: string; ca: string };
}

export function ordersApi(options: MtlsOrdersApiOptions) {
  const app = express();
  const auth = bearerAuth(createValidator({ issuer: options.issuer, audience: options.audience }), { realm: 'orders' });
  app.get('/orders', auth, requireScopes('orders:read'), (req, res) => {
    res.json({ orders: [{ id: 1, item: 'tea' }], for: req.auth.sub });
  });
  const tls: ServerOptions = {
    ...options.tls,
    // Ask every client for a certificate, but let requests without one (or with one from another CA)
    // through to the middleware: an unbound token needs none, a bound one is refused with 401.
    requestCert: true,
    rejectUnauthorized: false,
  };
  return createServer(tls, app);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3443);
  ordersApi({
    issuer: process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000',
    audience: process.env.API_AUDIENCE ?? 'https://api.example.com',
    tls: {
      cert: readFileSync(process.env.TLS_CERT ?? 'server.pem', 'utf8'),
      key: readFileSync(process.env.TLS_KEY ?? 'server.key', 'utf8'),
      ca: readFileSync(process.env.CLIENT_CA ?? 'clients-ca.pem', 'utf8'),
    },
  }).listen(port, () => console.log(`orders API on https://localhost:${port}`));
}
