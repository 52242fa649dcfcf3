import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RegistryError } from '../../src/errors.ts';
import type { CreateClientInput } from '../../src/registry/registry.ts';
import { backends, type CliResult, dbEnv, killLatchkeyProcesses, runLatchkey, type RunningServer, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * What client registration accepts (docs/security.md A5, A6, and the grant and scope rules of OIDC clients),
 * through `Registry.createClient` for the many cases and through `latchkey clients create` for a few.
 */

const API = 'https://api.example.com';

function describeRun(r: CliResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

function stdoutJson(r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    assert.fail(`stdout is not one JSON document (${(err as Error).message}):\n${describeRun(r)}`);
  }
}

/** A public code-flow client with the given redirect URIs. */
function webClient(redirectUris: string[], changes: Partial<CreateClientInput> = {}): CreateClientInput {
  return { name: 'web', type: 'public', grantTypes: ['authorization_code'], scopes: ['openid', 'orders:read'], redirectUris, ...changes };
}

for (const backend of await backends()) {
  describe(`client registration: redirect URIs, grants and OIDC scopes (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let env: Record<string, string | undefined>;

    const cli = (...args: string[]) => runLatchkey(args, env);

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      env = dbEnv(db);
      await s.registry.createResource({ identifier: API, scopes: ['orders:read', 'orders:write'] });
    });
    after(async () => {
      killLatchkeyProcesses();
      await s?.close();
      await db?.drop();
    });

    const clientCount = async () => (await s.registry.listClients()).length;

    /** The registration is refused as `invalid` with a message matching `message`, and nothing is stored. */
    async function assertRefused(input: CreateClientInput, message: RegExp, what = JSON.stringify(input.redirectUris)) {
      const before = await clientCount();
      await assert.rejects(
        s.registry.createClient(input),
        (err: unknown) => {
          assert.ok(err instanceof RegistryError, `${what}: ${String(err)}`);
          assert.equal(err.code, 'invalid', what);
          assert.match(err.message, message, what);
          return true;
        },
        `${what} must be refused`,
      );
      assert.equal(await clientCount(), before, `${what}: nothing was registered`);
    }

    /** Each URI alone is refused as a redirect URI, with its own text quoted and the reason given. */
    async function assertUrisRefused(uris: string[], reason: RegExp) {
      for (const uri of uris) {
        const quoted = new RegExp(`^redirect URI ${escapeRegExp(JSON.stringify(uri))}: `);
        await assertRefused(webClient([uri]), quoted, uri);
        await assertRefused(webClient([uri]), reason, uri);
        // A bad URI next to a good one spoils the registration too.
        await assertRefused(webClient(['https://app.example/cb', uri]), reason, `${uri} after a good one`);
      }
    }

    test('A5: http redirect URIs are refused except on loopback IP literals, and http://localhost is refused for confidential clients', async () => {
      // RFC 9700 §2.6 / OAuth 2.1 §2.3.1: redirect URIs use TLS, except loopback (RFC 8252 §7.3) ...
      await assertUrisRefused(
        ['http://app.example.com/cb', 'http://10.0.0.1/cb', 'http://127.0.0.1.nip.io/cb', 'http://[::2]/cb'],
        /http is only allowed for 127\.0\.0\.1 and \[::1\]; use https/,
      );
      // ... and RFC 8252 §8.3: "it is NOT RECOMMENDED to use localhost"; a name can resolve anywhere. Public
      // (native) clients may register it all the same (test/localhost-redirect.test.ts); confidential ones not.
      for (const uri of ['http://localhost/cb', 'http://localhost:3000/cb']) {
        await assertRefused(webClient([uri], { type: 'confidential' }), /use http:\/\/127\.0\.0\.1 or http:\/\/\[::1\] instead of localhost/, uri);
      }
    });

    test('A5: https, http://127.0.0.1 and http://[::1] redirect URIs are accepted and stored exactly', async () => {
      const uris = [
        'https://app.example/cb',
        'https://app.example/cb?tenant=a',
        'https://app.example:8443/cb',
        'http://127.0.0.1/cb',
        'http://127.0.0.1:8080/cb',
        'http://[::1]/cb',
        'http://[::1]:8080/cb',
      ];
      const { client, clientSecret } = await s.registry.createClient(webClient(uris, { name: 'accepted' }));
      assert.equal(clientSecret, undefined, 'a public client has no secret');
      assert.deepEqual((await s.registry.getClient(client.clientId)).redirectUris, uris);
      await s.registry.deleteClient(client.clientId);
    });

    test('A5: redirect URIs with a fragment are refused', async () => {
      // RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."
      await assertUrisRefused(['https://app.example/cb#x', 'https://app.example/cb#', 'http://127.0.0.1/cb#/next'], /must not contain a fragment/);
    });

    test('A5: javascript:, data: and vbscript: are refused in any letter case (CVE-2026-9086)', async () => {
      const cases: [string, string][] = [
        ['javascript:alert(1)', 'javascript'],
        ['JaVaScRiPt:alert(1)', 'javascript'],
        ['JAVASCRIPT://app.example/%0aalert(1)', 'javascript'],
        ['data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==', 'data'],
        ['DaTa:text/html;base64,PHNjcmlwdD4=', 'data'],
        ['vbscript:msgbox(1)', 'vbscript'],
        ['VBScript:msgbox(1)', 'vbscript'],
      ];
      for (const [uri, scheme] of cases) {
        await assertUrisRefused([uri], new RegExp(`the ${scheme}: scheme is not allowed`));
        // The same rules hold for where RP-initiated logout may send the browser.
        await assertRefused(webClient(['https://app.example/cb'], { postLogoutRedirectUris: [uri] }), new RegExp(`^post-logout redirect URI .*the ${scheme}: scheme is not allowed`), `${uri} (post-logout)`);
      }
    });

    test('A6: userinfo (user@host, several @), ..;/ segments and backslashes are refused', async () => {
      // Keycloak CVE-2026-7504 (several @) and CVE-2024-8883: no URI whose host a parser could read two ways.
      await assertUrisRefused(
        [
          'https://user@app.example/cb',
          'https://user:password@app.example/cb',
          'https://a@b@app.example/cb',
          'https://app.example@evil.example/cb',
          'https://app.example%40evil.example@evil.example/cb',
        ],
        /must not contain userinfo \(user@host\)/,
      );
      // Keycloak CVE-2026-3872: "..;/" is a dot segment to some servers and a path to others.
      await assertUrisRefused(['https://app.example/cb/..;/admin', 'https://app.example/..;/cb', 'https://app.example/a/../cb', 'https://app.example/./cb'], /must not contain \. or \.\. path segments/);
      await assertUrisRefused(
        ['https://app.example\\@evil.example/cb', 'https://app.example/cb\\..\\admin', 'https:\\\\evil.example/cb', 'http://127.0.0.1\\cb'],
        /must not contain spaces, control characters or backslashes/,
      );
    });

    test('grant rules: authorization_code needs a redirect URI; refresh_token needs authorization_code; public clients cannot use client_credentials', async () => {
      await assertRefused(webClient([]), /the authorization_code grant needs at least one redirect URI/, 'no redirect URI');
      await assertRefused(
        { name: 'x', type: 'confidential', grantTypes: ['refresh_token'], scopes: ['orders:read'] },
        /refresh_token needs the authorization_code or device_code grant/,
        'refresh_token alone',
      );
      await assertRefused(
        { name: 'x', type: 'confidential', grantTypes: ['client_credentials', 'refresh_token'], scopes: ['orders:read'] },
        /refresh_token needs the authorization_code or device_code grant/,
        'refresh_token with client_credentials',
      );
      // RFC 6749 §4.4: "The client credentials grant type MUST only be used by confidential clients."
      await assertRefused(
        { name: 'x', type: 'public', grantTypes: ['client_credentials'], scopes: ['orders:read'] },
        /public clients cannot use client_credentials/,
        'public client_credentials',
      );
      await assertRefused(
        webClient(['https://app.example/cb'], { grantTypes: ['authorization_code', 'client_credentials'], scopes: ['orders:read'] }),
        /public clients cannot use client_credentials/,
        'public authorization_code + client_credentials',
      );
      await assertRefused(
        { name: 'x', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'], redirectUris: ['https://app.example/cb'] },
        /redirect URIs are only for the authorization_code grant/,
        'redirect URIs without the code grant',
      );
      // Control: the same clients, done right, register.
      const ok = await s.registry.createClient(
        webClient(['https://app.example/cb'], { name: 'control', grantTypes: ['authorization_code', 'refresh_token'], scopes: ['openid', 'offline_access', 'orders:read'] }),
      );
      assert.deepEqual(ok.client.grantTypes, ['authorization_code', 'refresh_token']);
      await s.registry.deleteClient(ok.client.clientId);
    });

    test('OIDC scope rules: OpenID Connect scopes need authorization_code; profile, email and offline_access need openid', async () => {
      for (const scope of ['openid', 'profile', 'offline_access']) {
        await assertRefused(
          { name: 'svc', type: 'confidential', grantTypes: ['client_credentials'], scopes: [scope, 'orders:read'] },
          /the OpenID Connect scopes need the authorization_code or device_code grant/,
          `${scope} for a client_credentials client`,
        );
      }
      for (const scopes of [['profile'], ['email', 'orders:read'], ['offline_access', 'orders:read'], ['profile', 'email', 'offline_access']]) {
        await assertRefused(webClient(['https://app.example/cb'], { scopes }), /profile, email and offline_access need the openid scope/, scopes.join(' '));
      }
      // Control: with openid they register, and split into OIDC scopes and API scopes.
      const ok = await s.registry.createClient(webClient(['https://app.example/cb'], { name: 'oidc', scopes: ['openid', 'profile', 'email', 'orders:read'] }));
      assert.deepEqual(ok.client.oidcScopes, ['openid', 'profile', 'email']);
      assert.deepEqual(ok.client.scopes.map((x) => x.scope), ['orders:read']);
      await s.registry.deleteClient(ok.client.clientId);
    });

    test('CLI: clients create --type public with the code flow and OIDC scopes works and prints no secret', async () => {
      const redirects = 'https://shop.example/callback,http://127.0.0.1/cb';
      const args = [
        'clients', 'create', '--name', 'Demo Shop', '--type', 'public',
        '--grant-types', 'authorization_code,refresh_token',
        '--redirect-uris', redirects,
        '--scopes', 'openid,profile,email,offline_access,orders:read',
      ];
      const [text, json] = await Promise.all([cli(...args), cli(...args, '--json')]);
      assert.equal(text.code, 0, describeRun(text));
      assert.match(text.stdout, /^created client Demo Shop$/m);
      assert.match(text.stdout, /^public client: no secret$/m);
      assert.doesNotMatch(text.stdout, /client_secret/);

      assert.equal(json.code, 0, describeRun(json));
      const created = stdoutJson(json);
      assert.equal('client_secret' in created, false, `no client_secret member: ${json.stdout}`);
      assert.equal(created.client.type, 'public');
      assert.equal(created.client.token_endpoint_auth_method, 'none');
      assert.deepEqual(created.client.grant_types, ['authorization_code', 'refresh_token']);
      assert.deepEqual(created.client.redirect_uris, redirects.split(','));
      assert.deepEqual(created.client.scopes, ['openid', 'profile', 'email', 'offline_access', 'orders:read']);
      assert.deepEqual(created.client.audiences, [API]);

      const textId = /^client_id:\s+(\S+)$/m.exec(text.stdout)?.[1];
      assert.ok(textId, describeRun(text));
      for (const id of [textId, created.client_id as string]) {
        const stored = await s.registry.getClient(id);
        assert.equal(stored.secretHash, null, 'no secret is stored for a public client');
        assert.equal(stored.tokenEndpointAuthMethod, 'none');
        assert.deepEqual(stored.redirectUris, redirects.split(','));
        assert.deepEqual(stored.oidcScopes, ['openid', 'profile', 'email', 'offline_access']);
      }
    });

    test('CLI: --first-party and --id-token-alg ES256 are shown by clients show --json; the defaults are false and RS256', async () => {
      const special = await cli(
        'clients', 'create', '--name', 'Admin', '--type', 'confidential', '--grant-types', 'authorization_code',
        '--redirect-uris', 'https://admin.example/cb', '--scopes', 'openid,orders:read', '--first-party', '--id-token-alg', 'ES256', '--json',
      );
      assert.equal(special.code, 0, describeRun(special));
      assert.equal(typeof stdoutJson(special).client_secret, 'string', 'a confidential client gets its secret once');
      // Control, registered without the options.
      const plain = await s.registry.createClient({
        name: 'Partner',
        type: 'confidential',
        grantTypes: ['authorization_code'],
        redirectUris: ['https://partner.example/cb'],
        scopes: ['openid', 'orders:read'],
      });

      const [showSpecial, showPlain] = await Promise.all([
        cli('clients', 'show', stdoutJson(special).client_id, '--json'),
        cli('clients', 'show', plain.client.clientId, '--json'),
      ]);
      for (const r of [showSpecial, showPlain]) assert.equal(r.code, 0, describeRun(r));
      const shown = stdoutJson(showSpecial);
      assert.equal(shown.first_party, true);
      assert.equal(shown.id_token_signed_response_alg, 'ES256');
      assert.deepEqual(shown.redirect_uris, ['https://admin.example/cb']);
      assert.equal('client_secret' in shown, false, 'show never prints the secret');
      const shownPlain = stdoutJson(showPlain);
      assert.equal(shownPlain.first_party, false);
      assert.equal(shownPlain.id_token_signed_response_alg, 'RS256');

      // Only RS256 and ES256 are offered for ID tokens.
      await assertRefused(
        webClient(['https://app.example/cb'], { idTokenSignedResponseAlg: 'HS256' as 'RS256' }),
        /the ID token algorithm must be RS256 or ES256/,
        'HS256',
      );
    });

    test('CLI: refused redirect URIs exit 1 with the reason on stderr (or as JSON with --json), and register nothing', async () => {
      const before = await clientCount();
      const create = (...extra: string[]) =>
        cli('clients', 'create', '--name', 'refused', '--type', 'public', '--grant-types', 'authorization_code', '--scopes', 'openid', ...extra);
      const [localhost, javascript, userinfo, data] = await Promise.all([
        // localhost is refused for a confidential client only (a public one may have it).
        cli('clients', 'create', '--name', 'refused', '--type', 'confidential', '--grant-types', 'authorization_code', '--scopes', 'openid', '--redirect-uris', 'http://localhost/cb'),
        create('--redirect-uris', 'JaVaScRiPt:alert(1)'),
        create('--redirect-uris', 'https://user@app.example/cb'),
        create('--redirect-uris', 'data:text/html;base64,PHNjcmlwdD4=', '--json'),
      ]);
      const cases: [CliResult, RegExp][] = [
        [localhost, /^error: redirect URI "http:\/\/localhost\/cb": use http:\/\/127\.0\.0\.1 or http:\/\/\[::1\] instead of localhost/],
        [javascript, /^error: redirect URI "JaVaScRiPt:alert\(1\)": the javascript: scheme is not allowed/],
        [userinfo, /^error: redirect URI "https:\/\/user@app\.example\/cb": must not contain userinfo \(user@host\)/],
      ];
      for (const [r, message] of cases) {
        assert.equal(r.code, 1, describeRun(r));
        assert.match(r.stderr, message, describeRun(r));
        assert.equal(r.stdout, '');
      }
      assert.equal(data.code, 1, describeRun(data));
      const error = stdoutJson(data);
      assert.equal(error.error, 'invalid');
      assert.match(error.message, /the data: scheme is not allowed/);
      assert.equal(await clientCount(), before, 'nothing was registered');
    });
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
