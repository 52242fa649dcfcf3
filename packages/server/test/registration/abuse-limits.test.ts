import assert from 'node:assert/strict';
import { createServer as createTcpServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Janitor } from '../../src/janitor.ts';
import { backends, FormBrowser, type Latchkey, pkcePair, postForm, walkAuthorization } from '@latchkey/testing';
import { ASSERTION_TYPE, assertRegistrationError, clientAssertion, register, registrationServer, signingKey, webApp } from './support.ts';

/**
 * RFC 7591 §5 abuse limits (docs/security.md L81): registrations per address, the body size, the
 * number and length of URIs, and the purge of registrations that never obtained a token; and L78: no
 * URL a client registers is fetched by the server except its jwks_uri, through the SSRF guard.
 */

const RATE_LIMIT = 3;
const UNUSED_TTL_SECONDS = 3600;

for (const backend of await backends()) {
  describe(`registration abuse limits (${backend.name})`, { skip: backend.skip }, () => {
    let lk: Latchkey;
    let address = 0;
    /** Each test registers from an address of its own (the proxy on loopback is trusted), so counts do not mix. */
    const fresh = () => ({ 'x-forwarded-for': `203.0.113.${++address}` });

    before(async () => {
      lk = await registrationServer(backend, {
        registration: 'open',
        registrationRateLimitPerHour: RATE_LIMIT,
        registrationUnusedTtlSeconds: UNUSED_TTL_SECONDS,
        registrationAllowClientCredentials: true,
        trustedProxies: 'loopback',
      });
    });
    after(async () => {
      await lk?.close();
    });

    const clientCount = async () => (await lk.running.registry.listClients()).length;

    test('L81: registrations per address per hour: over the limit, 429 with Retry-After and nothing stored; other addresses are not affected', async () => {
      const from = fresh();
      // Refused requests count as well as accepted ones.
      assertRegistrationError(await register(lk, webApp({ scope: 'notes:write' }), from), 'invalid_client_metadata', 'a refused one');
      for (let i = 1; i < RATE_LIMIT; i++) assert.equal((await register(lk, webApp(), from)).status, 201);
      const before = await clientCount();
      const limited = await register(lk, webApp(), from);
      assertRegistrationError(limited, 'invalid_request', 'over the limit', 429);
      const retryAfter = Number(limited.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600, `Retry-After: ${limited.headers.get('retry-after')}`);
      assert.equal(await clientCount(), before);
      assert.equal((await register(lk, webApp(), fresh())).status, 201, 'another address registers');
    });

    test('L81: a body over 16 KiB is refused with 413 and stores nothing; one just under is accepted', async () => {
      const before = await clientCount();
      const big = await register(lk, webApp({ padding: 'x'.repeat(17 * 1024) }), fresh());
      assert.equal(big.status, 413, big.text);
      assert.equal(big.body.error, 'invalid_request');
      assert.equal(await clientCount(), before);
      const under = await register(lk, webApp({ padding: 'x'.repeat(15 * 1024) }), fresh());
      assert.equal(under.status, 201, under.text);
    });

    test('L81: at most 10 redirect URIs, each at most 2000 characters; display URLs and scope are bounded too', async () => {
      const uris = (n: number) => Array.from({ length: n }, (_, i) => `https://notes-app.example/cb${i}`);
      assert.equal((await register(lk, webApp({ redirect_uris: uris(10) }), fresh())).status, 201);
      assertRegistrationError(await register(lk, webApp({ redirect_uris: uris(11) }), fresh()), 'invalid_redirect_uri', '11 URIs');
      assertRegistrationError(
        await register(lk, webApp({ redirect_uris: [`https://notes-app.example/${'a'.repeat(2000)}`] }), fresh()),
        'invalid_redirect_uri',
        'a 2000+ character URI',
      );
      assertRegistrationError(
        await register(lk, webApp({ client_uri: `https://notes-app.example/${'a'.repeat(2000)}` }), fresh()),
        'invalid_client_metadata',
        'a long client_uri',
      );
      assertRegistrationError(await register(lk, webApp({ scope: 'notes:read '.repeat(200) }), fresh()), 'invalid_client_metadata', 'a long scope');
      assertRegistrationError(
        await register(lk, webApp({ contacts: ['a'.repeat(255)] }), fresh()),
        'invalid_client_metadata',
        'a long contact',
      );
    });

    test('L81: the janitor deletes registrations that never obtained a token, after LATCHKEY_REGISTRATION_UNUSED_TTL_SECONDS; used ones and operators\' clients stay', async () => {
      const unused = await register(lk, { grant_types: ['client_credentials'], scope: 'notes:read' }, fresh());
      const used = await register(lk, { grant_types: ['client_credentials'], scope: 'notes:read' }, fresh());
      assert.equal(unused.status, 201, unused.text);
      const token = await postForm(`${lk.issuer}/token`, { grant_type: 'client_credentials' }, { basic: [used.body.client_id, used.body.client_secret] });
      assert.equal(token.status, 200, token.text);
      const now = Math.floor(Date.now() / 1000);
      const janitor = new Janitor(lk.running.server.context);

      assert.equal((await janitor.runOnce(now + UNUSED_TTL_SECONDS - 60)).registrations, 0, 'not yet');
      await lk.running.registry.getClient(unused.body.client_id);

      const result = await janitor.runOnce(now + UNUSED_TTL_SECONDS + 60);
      assert.ok(result.registrations >= 1, JSON.stringify(result));
      await assert.rejects(lk.running.registry.getClient(unused.body.client_id), /no client/);
      assert.equal(await lk.running.server.context.storage.registrations.find(unused.body.client_id), undefined);
      await lk.running.registry.getClient(used.body.client_id);
      await lk.running.registry.getClient(lk.reader[0]);
      const retired = await lk.running.server.context.storage.db.kysely
        .selectFrom('deleted_client_ids')
        .select('client_id')
        .where('client_id', '=', unused.body.client_id)
        .execute();
      assert.equal(retired.length, 1, 'the purged id is retired like any deleted client\'s');
      const gone = await postForm(`${lk.issuer}/token`, { grant_type: 'client_credentials' }, { basic: [unused.body.client_id, unused.body.client_secret] });
      assert.equal(gone.status, 401);

      const off = new Janitor({ ...lk.running.server.context, settings: { ...lk.running.settings, registrationUnusedTtlSeconds: 0 } });
      const another = await register(lk, { grant_types: ['client_credentials'], scope: 'notes:read' }, fresh());
      assert.equal((await off.runOnce(now + 10 * UNUSED_TTL_SECONDS)).registrations, 0, '0 keeps them');
      await lk.running.registry.getClient(another.body.client_id);
    });

    describe('L78: the server fetches no URL a client registered, but its jwks_uri through the SSRF guard', () => {
      let listener: Server;
      let port: number;
      let connections = 0;

      before(async () => {
        listener = createTcpServer((socket) => {
          connections++;
          socket.destroy();
        });
        await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
        port = (listener.address() as { port: number }).port;
      });
      after(async () => {
        await new Promise((resolve) => listener?.close(resolve));
      });

      test('display URLs on this machine are stored and shown, never fetched; a jwks_uri to loopback is refused by the guard before any connection', async () => {
        const local = `https://127.0.0.1:${port}`;
        const display = await register(
          lk,
          webApp({
            token_endpoint_auth_method: 'none',
            scope: 'notes:read',
            client_uri: `${local}/`,
            logo_uri: `${local}/logo.png`,
            policy_uri: `${local}/privacy`,
            tos_uri: `${local}/terms`,
          }),
          fresh(),
        );
        assert.equal(display.status, 201, display.text);
        const { challenge } = pkcePair();
        const walked = await walkAuthorization(
          new FormBrowser(),
          lk.issuer,
          `${lk.issuer}/authorize?${new URLSearchParams({
            response_type: 'code',
            client_id: display.body.client_id,
            redirect_uri: 'https://notes-app.example/callback',
            scope: 'notes:read',
            code_challenge: challenge,
            code_challenge_method: 'S256',
          })}`,
        );
        assert.equal(walked.sawConsent, true);

        const key = await signingKey();
        const keyed = await register(
          lk,
          { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${local}/jwks`, grant_types: ['client_credentials'], scope: 'notes:read' },
          fresh(),
        );
        assert.equal(keyed.status, 201, keyed.text);
        const res = await postForm(`${lk.issuer}/token`, {
          grant_type: 'client_credentials',
          client_id: keyed.body.client_id,
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: await clientAssertion(keyed.body.client_id, lk.issuer, key),
        });
        assert.equal(res.status, 401, res.text);
        assert.equal(res.body.error, 'invalid_client');
        assert.equal(connections, 0, 'nothing connected to the registered URLs');
      });
    });

    test('no registration request was answered with a server error', () => {
      assert.ok(!lk.running.logs().includes('"request failed"'), 'a request failed with a 500');
    });
  });
}
