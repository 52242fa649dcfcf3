// An orders API on Fastify that takes DPoP-bound tokens (RFC 9449) beside bearer tokens, with
// resource-server nonces (§9), and a client that calls it with a proof.
//
//   LATCHKEY_ISSUER=http://localhost:9000 PUBLIC_URL=http://localhost:3000 \
//     node --import tsx packages/resource-server/examples/dpop-orders-api.ts
//   CLIENT_ID=... CLIENT_SECRET=... node --import tsx packages/resource-server/examples/dpop-orders-api.ts call
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { accessTokenHash, createDpopNonces, createValidator } from '@latchkey/resource-server';
import { bearerAuth, requireScopes } from '@latchkey/resource-server/fastify';

export interface DpopOrdersApiOptions {
  issuer: string;
  audience: string;
  /** The API's URL as clients address it: the `htu` of their proofs (default: from the request's Host). */
  publicUrl?: string;
  /** 'required': DPoP only; 'allowed' (the default): Bearer too. */
  mode?: 'allowed' | 'required';
}

export function ordersApi(options: DpopOrdersApiOptions) {
  const app = Fastify();
  const auth = bearerAuth(createValidator({ issuer: options.issuer, audience: options.audience }), {
    realm: 'orders',
    dpop: {
      mode: options.mode ?? 'allowed',
      ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
      // Several instances share the secret (DPOP_NONCE_SECRET), so each takes the others' nonces.
      nonce: createDpopNonces(process.env.DPOP_NONCE_SECRET ?? randomBytes(32), 60),
    },
  });
  app.get('/orders', { preHandler: [auth, requireScopes('orders:read')] }, async (request) => ({
    orders: [{ id: 1, item: 'tea' }],
    for: request.auth.sub,
    boundTo: (request.auth.payload.cnf as { jkt?: string } | undefined)?.jkt ?? null,
  }));
  return app;
}

/** A DPoP client: its key pair (RFC 9449 §4), and a fetch that signs a proof for each request. */
export interface DpopClient {
  /** RFC 7638 thumbprint of the public key: what the token's `cnf.jkt` names. */
  jkt: string;
  /** A DPoP-bound access token by the client credentials grant (RFC 9449 §5): the token request carries a proof. */
  clientCredentials(tokenEndpoint: string, clientId: string, clientSecret: string, scope: string): Promise<string>;
  /** A request to an API with the token and a proof for it (RFC 9449 §7.1), retried once on use_dpop_nonce. */
  fetch(url: string, accessToken: string, init?: { method?: string }): Promise<Response>;
}

export async function dpopClient(): Promise<DpopClient> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  let nonce: string | undefined;
  const proof = (key: CryptoKey, publicJwk: JWK, method: string, url: string, token?: string, serverNonce?: string) => {
    const htu = new URL(url);
    htu.search = '';
    htu.hash = '';
    const claims = { htm: method, htu: htu.href, ...(token ? { ath: accessTokenHash(token) } : {}) };
    const proofNonce = token ? nonce : serverNonce;
    return new SignJWT({ ...claims, ...(proofNonce ? { nonce: proofNonce } : {}) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk })
      .setIssuedAt()
      .setJti(crypto.randomUUID())
      .sign(key);
  };
  return {
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
    async clientCredentials(tokenEndpoint, clientId, clientSecret, scope) {
      const send = async (serverNonce?: string) =>
        fetch(tokenEndpoint, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
            dpop: await proof(privateKey, jwk, 'POST', tokenEndpoint, undefined, serverNonce),
          },
          body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
        });
      let response = await send();
      let body = (await response.json()) as { access_token?: string; token_type?: string; error?: string };
      // RFC 9449 §8: the authorization server's nonce, when it asks for one.
      if (response.status === 400 && body.error === 'use_dpop_nonce') {
        response = await send(response.headers.get('dpop-nonce') ?? undefined);
        body = (await response.json()) as typeof body;
      }
      if (!response.ok || body.token_type !== 'DPoP' || !body.access_token) throw new Error(`the token request failed: ${body.error ?? response.status}`);
      return body.access_token;
    },
    async fetch(url, accessToken, init = {}) {
      const method = init.method ?? 'GET';
      const send = async () =>
        fetch(url, { method, headers: { authorization: `DPoP ${accessToken}`, dpop: await proof(privateKey, jwk, method, url, accessToken) } });
      let response = await send();
      // RFC 9449 §9: a resource server that wants a nonce answers use_dpop_nonce with DPoP-Nonce; retry once.
      const next = response.headers.get('dpop-nonce');
      if (next !== null) nonce = next;
      if (response.status === 401 && /error="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? '')) {
        await response.body?.cancel();
        response = await send();
      }
      return response;
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === 'call') {
  // The client: a DPoP-bound token from Latchkey, then GET /orders with it.
  const issuer = process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000';
  const client = await dpopClient();
  const token = await client.clientCredentials(`${issuer}/token`, process.env.CLIENT_ID!, process.env.CLIENT_SECRET!, 'orders:read');
  const response = await client.fetch(`${process.env.PUBLIC_URL ?? 'http://localhost:3000'}/orders`, token);
  console.log(response.status, await response.text());
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3000);
  const app = ordersApi({
    issuer: process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000',
    audience: process.env.API_AUDIENCE ?? 'https://api.example.com',
    publicUrl: process.env.PUBLIC_URL ?? `http://localhost:${port}`,
  });
  await app.listen({ port });
  console.log(`orders API on http://localhost:${port}`);
}
