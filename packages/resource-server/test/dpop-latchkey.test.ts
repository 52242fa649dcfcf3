import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { API, type Credentials, dpopProver, type DpopProver, type Latchkey, startLatchkey } from '@latchkey/testing';
import { basicAuthorization } from '../src/introspector.ts';
import { createIntrospector, createValidator, type TokenVerifier } from '../src/index.ts';
import { FRAMEWORKS, type RunningApp } from './helpers/apps.ts';

/**
 * DPoP-bound tokens as Latchkey issues them (RFC 9449 §5, §6): a client credentials token requested
 * with a proof, as a JWT (`cnf.jkt`, validated locally) and as an opaque token (introspection answers
 * `token_type: DPoP` and `cnf`, RFC 9449 §6.2), used at an API in each framework with a fresh proof,
 * and refused as Bearer.
 */
for (const format of ['jwt', 'opaque'] as const) {
  describe(`DPoP-bound ${format} tokens from Latchkey`, () => {
    let l: Latchkey;
    let key: DpopProver;
    let token: string;
    let verifier: TokenVerifier;

    /** POST /token with a proof of `key` (client credentials, RFC 9449 §5). */
    async function boundToken(client: Credentials): Promise<{ status: number; body: Record<string, unknown> }> {
      const metadata = (await (await fetch(`${l.issuer}/.well-known/oauth-authorization-server`)).json()) as { token_endpoint: string };
      const res = await fetch(metadata.token_endpoint, {
        method: 'POST',
        headers: {
          authorization: basicAuthorization(...client),
          'content-type': 'application/x-www-form-urlencoded',
          dpop: await key.proof({ htm: 'POST', htu: metadata.token_endpoint }),
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read' }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }

    before(async () => {
      l = await startLatchkey(format === 'opaque' ? { accessTokenFormat: 'opaque' } : {});
      key = await dpopProver();
      const { status, body } = await boundToken(l.reader);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.token_type, 'DPoP');
      token = body.access_token as string;
      verifier =
        format === 'jwt'
          ? createValidator({ issuer: l.issuer, audience: API })
          : createIntrospector({ issuer: l.issuer, audience: API, clientId: l.apiClient[0], clientSecret: l.apiClient[1], cacheSeconds: 0 });
    });
    after(async () => {
      await l?.close();
    });

    test(format === 'jwt' ? 'the JWT carries cnf.jkt, the thumbprint of the client\'s key' : 'introspection answers token_type DPoP and cnf.jkt (RFC 9449 §6.2)', async () => {
      if (format === 'jwt') {
        assert.deepEqual(decodeJwt(token).cnf, { jkt: key.jkt });
        const claims = await (verifier as ReturnType<typeof createValidator>).validate(token);
        assert.deepEqual(claims.payload.cnf, { jkt: key.jkt });
      } else {
        assert.ok(token.startsWith('lko_'));
        const claims = await (verifier as ReturnType<typeof createIntrospector>).introspect(token);
        assert.equal(claims.payload.token_type, 'DPoP');
        assert.deepEqual(claims.payload.cnf, { jkt: key.jkt });
      }
    });

    for (const [name, start] of FRAMEWORKS) {
      describe(name, () => {
        let app: RunningApp;
        before(async () => {
          app = await start(verifier);
        });
        after(async () => {
          await app?.close();
        });

        test('with a proof of the client\'s key: 200; as Bearer, or with another key\'s proof: 401', async () => {
          const htu = `${app.url}/orders`;
          const ok = await fetch(htu, { headers: { authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'GET', htu, accessToken: token }) } });
          assert.equal(ok.status, 200);
          assert.equal(((await ok.json()) as { sub: string }).sub, l.reader[0]);
          const asBearer = await fetch(htu, { headers: { authorization: `Bearer ${token}` } });
          assert.equal(asBearer.status, 401);
          assert.match(asBearer.headers.get('www-authenticate')!, /^Bearer realm="orders", error="invalid_token", error_description="the access token is bound to a DPoP key/);
          const thief = await dpopProver();
          const stolen = await fetch(htu, { headers: { authorization: `DPoP ${token}`, dpop: await thief.proof({ htm: 'GET', htu, accessToken: token }) } });
          assert.equal(stolen.status, 401);
          assert.equal(((await stolen.json()) as { error: string }).error, 'invalid_dpop_proof');
        });
      });
    }
  });
}
