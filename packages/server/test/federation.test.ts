import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import {
  authorizeUrl,
  backends,
  dbEnv,
  exchangeCode,
  FormBrowser,
  type Page,
  PASSWORD,
  pkcePair,
  type RunningServer,
  runLatchkey,
  seedUserFlow,
  sqlite,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
  walkAuthorization,
} from '@latchkey/testing';
import { addProvider } from '../src/federation/providers.ts';
import { UserRegistry } from '../src/users/user-registry.ts';

/**
 * Sign-in with another identity provider (issue 16): a second Latchkey server, started here, is the
 * upstream OpenID provider; this one is its relying party (oauth4webapi: PKCE, state, nonce, iss, the
 * ID token). A first sign-in creates a linked local user, the next ones find it; linking to an existing
 * user by address happens only when the upstream says the address is verified and the provider allows
 * it; a replayed or forged callback signs nobody in.
 */
for (const backend of await backends()) {
  describe(`sign-in with an upstream OpenID provider (${backend.name})`, { skip: backend.skip }, () => {
    let downDb: TestDatabase;
    let upDb: TestDatabase;
    let down: RunningServer;
    let up: RunningServer;
    let downSeed: UserFlowSeed;
    let upSeed: UserFlowSeed;

    before(async () => {
      downDb = await backend.create();
      upDb = await sqlite.create();
      down = await startServer(downDb, { allowLoopbackUpstream: true });
      // The upstream fetches this server's key for private_key_jwt from loopback: a development setting.
      up = await startServer(upDb, { allowLoopbackJwksUri: true });
      downSeed = await seedUserFlow(down);
      upSeed = await seedUserFlow(up);
      const callback = `${down.issuer}/login/upstream/callback`;
      for (const [id, name, linkByEmail] of [['upco', 'Upstream Co', false], ['upco-link', 'Upstream Linking', true]] as const) {
        const rp = await up.registry.createClient({ name, type: 'confidential', grantTypes: ['authorization_code'], scopes: ['openid', 'email', 'profile'], redirectUris: [callback], firstParty: true });
        await addProvider(down.server.context, { id, issuer: up.issuer, clientId: rp.client.clientId, clientSecret: rp.clientSecret!, displayName: name, linkByEmail });
      }
      // A provider that authenticates this server by private_key_jwt (RFC 7523), its key at our jwks URL.
      const jwtClient = await up.registry.createClient({
        name: 'Downstream JWT',
        type: 'confidential',
        grantTypes: ['authorization_code'],
        scopes: ['openid', 'email', 'profile'],
        redirectUris: [callback],
        firstParty: true,
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwksUri: `${down.issuer}/login/upstream/upco-jwt/jwks`,
      });
      const closedClient = await up.registry.createClient({ name: 'Link only', type: 'confidential', grantTypes: ['authorization_code'], scopes: ['openid', 'email', 'profile'], redirectUris: [callback], firstParty: true });
      await addProvider(down.server.context, { id: 'upco-closed', issuer: up.issuer, clientId: closedClient.client.clientId, clientSecret: closedClient.clientSecret!, displayName: 'Link Only', createUsers: false });
      await addProvider(down.server.context, { id: 'upco-jwt', issuer: up.issuer, clientId: jwtClient.client.clientId, privateKeyJwt: true, displayName: 'Upstream JWT' });
    });
    after(async () => {
      await down?.close();
      await up?.close();
      await downDb?.drop();
      await upDb?.drop();
    });

    /**
     * From an authorization at the downstream server: the provider's button, the upstream's login form
     * (alice there), and back; returns the downstream callback's answer and the callback URL itself.
     */
    const viaUpstream = async (browser: FormBrowser, providerName: string, verifierPair = pkcePair(), username = 'alice') => {
      const login = await browser.get(authorizeUrl(down, { clientId: downSeed.publicClient, scope: 'openid profile' }, verifierPair.challenge), { followRedirects: true });
      const href = new RegExp(`href="([^"]+)">Sign in with ${providerName}<`).exec(login.text)?.[1];
      assert.ok(href, `no button for ${providerName}: ${login.text.slice(0, 600)}`);
      const toProvider = await browser.get(new URL(href.replace(/&#38;/g, '&'), down.issuer).toString());
      assert.equal(toProvider.status, 303);
      assert.ok(toProvider.location!.startsWith(`${up.issuer}/authorize?`), toProvider.location);
      const upstreamLogin = await browser.get(toProvider.location!, { followRedirects: true });
      assert.equal(new URL(upstreamLogin.url).origin, up.issuer);
      const back = await browser.submit(upstreamLogin, browser.forms(upstreamLogin.text, upstreamLogin.url)[0]!, { values: { username, password: PASSWORD } });
      assert.equal(back.status, 303);
      const callbackUrl = back.location!;
      assert.ok(callbackUrl.startsWith(`${down.issuer}/login/upstream/callback?`), callbackUrl);
      const answer = await browser.get(callbackUrl);
      return { answer, callbackUrl, verifier: verifierPair.verifier };
    };

    const finish = async (browser: FormBrowser, answer: Page, verifier: string) => {
      assert.equal(answer.status, 303, answer.text.slice(0, 500));
      const next = new URL(answer.location!, down.issuer);
      // Consent given before: straight back to the client.
      const callback = next.origin === down.issuer ? (await walkAuthorization(browser, down.issuer, next.toString())).callback : next;
      const code = callback.searchParams.get('code');
      assert.ok(code, callback.toString());
      const tokens = await exchangeCode(down, { clientId: downSeed.publicClient, code, verifier });
      assert.equal(tokens.status, 200, tokens.text);
      return decodeJwt(tokens.body.id_token as string);
    };

    test('a first sign-in creates a local user linked to (issuer, sub); the next one finds it; amr fed', async () => {
      const browser = new FormBrowser();
      const { answer, verifier } = await viaUpstream(browser, 'Upstream Co');
      const claims = await finish(browser, answer, verifier);
      assert.notEqual(claims.sub, downSeed.user.id, 'not the local alice: the upstream address is not verified');
      assert.deepEqual(claims.amr, ['fed']);
      const user = (await down.server.context.storage.users.findById(claims.sub!))!;
      assert.match(user.username, /^alice-/, 'a username of its own: alice is taken here');
      assert.equal(user.email, 'alice@example.com');
      assert.equal(user.emailVerified, false, 'as the upstream says');
      const links = await down.server.context.storage.db.kysely.selectFrom('user_links').selectAll().where('provider_id', '=', 'upco').execute();
      assert.equal(links.length, 1);
      assert.equal(links[0]!.subject, upSeed.user.id);
      // Again, in another browser: the same local user.
      const other = new FormBrowser();
      const second = await viaUpstream(other, 'Upstream Co');
      assert.equal((await finish(other, second.answer, second.verifier)).sub, claims.sub);
      assert.equal((await down.server.context.storage.users.list()).filter((u) => u.username.startsWith('alice-')).length, 1);
      // The account page lists the link; removing it leaves the account.
      const home = await other.get(`${down.issuer}/account`);
      assert.match(home.text, /Sign-in with other accounts/);
      const form = other.forms(home.text, home.url).find((f) => f.action.endsWith('/account/links/remove'))!;
      const removed = await other.submit(home, form, { followRedirects: true });
      assert.match(removed.text, /That sign-in is removed/);
      assert.equal((await down.server.context.storage.db.kysely.selectFrom('user_links').selectAll().where('provider_id', '=', 'upco').execute()).length, 0);
    });

    test('linking by address: only when the upstream says it is verified and the provider allows it', async () => {
      await up.server.context.storage.users.setEmail(upSeed.user.id, 'alice@example.com', true);
      // Only a local address that is itself verified is linked to.
      await down.server.context.storage.users.setEmail(downSeed.user.id, 'alice@example.com', true);
      // Exactly one local user with the address: the accounts the upstream made before go.
      await down.server.context.storage.db.kysely.deleteFrom('users').where('username', 'like', 'alice-%').execute();
      try {
        const browser = new FormBrowser();
        const { answer, verifier } = await viaUpstream(browser, 'Upstream Linking');
        assert.equal((await finish(browser, answer, verifier)).sub, downSeed.user.id, 'the local alice, linked');
        // The provider that does not link by address makes an account of its own even so.
        const other = new FormBrowser();
        const plain = await viaUpstream(other, 'Upstream Co');
        assert.notEqual((await finish(other, plain.answer, plain.verifier)).sub, downSeed.user.id);
      } finally {
        await up.server.context.storage.users.setEmail(upSeed.user.id, 'alice@example.com', false);
      }
    });

    test('private_key_jwt: the provider checks an assertion signed with the key this server publishes for it', async () => {
      const jwks = (await (await fetch(`${down.issuer}/login/upstream/upco-jwt/jwks`)).json()) as { keys: Record<string, unknown>[] };
      assert.equal(jwks.keys.length, 1);
      assert.equal(jwks.keys[0]!.kty, 'EC');
      assert.equal(jwks.keys[0]!.d, undefined, 'the public half only');
      assert.equal((await fetch(`${down.issuer}/login/upstream/upco/jwks`)).status, 404, 'none for a provider with a secret');
      const rows = await down.server.context.storage.db.kysely.selectFrom('upstream_providers').select('private_jwk_enc').where('id', '=', 'upco-jwt').execute();
      assert.ok(rows[0]!.private_jwk_enc && !rows[0]!.private_jwk_enc.includes('"d"'), 'the private key encrypted at rest');
      const browser = new FormBrowser();
      const { answer, verifier } = await viaUpstream(browser, 'Upstream JWT');
      const claims = await finish(browser, answer, verifier);
      assert.deepEqual(claims.amr, ['fed']);
    });

    test('a link-only provider (--no-create) signs in no one who has no account here', async () => {
      const before = (await down.server.context.storage.users.list()).length;
      const browser = new FormBrowser();
      const { answer } = await viaUpstream(browser, 'Link Only');
      assert.equal(answer.status, 403);
      assert.match(answer.text, /There is no account here/);
      assert.doesNotMatch(answer.headers.get('set-cookie') ?? '', /latchkey_session=[^;]/);
      assert.equal((await down.server.context.storage.users.list()).length, before);
    });

    test('linking by address never joins a local account whose address is unconfirmed (made by someone else)', async () => {
      // Mallory signed up here with Vic's address and never confirmed it.
      const mallory = await new UserRegistry(down.server.context.storage).create({ username: 'mallory', password: PASSWORD, email: 'vic@example.com', emailConfirmationRequired: true });
      const vic = await new UserRegistry(up.server.context.storage).create({ username: 'vic', password: PASSWORD, email: 'vic@example.com', emailVerified: true });
      void vic;
      const browser = new FormBrowser();
      const { answer, verifier } = await viaUpstream(browser, 'Upstream Linking', pkcePair(), 'vic');
      const claims = await finish(browser, answer, verifier);
      assert.notEqual(claims.sub, mallory.id, "not Mallory's account");
    });

    test('a callback replayed, forged, or without this browser\'s transaction signs nobody in', async () => {
      const browser = new FormBrowser();
      const cookies = () => browser.cookies(down.issuer);
      const login = await browser.get(authorizeUrl(down, { clientId: downSeed.publicClient, scope: 'openid' }, pkcePair().challenge), { followRedirects: true });
      void login;
      const first = await viaUpstream(browser, 'Upstream Co');
      assert.equal(first.answer.status, 303);
      // The transaction cookie is gone; put it back (a copied cookie): the state is spent.
      const replayer = new FormBrowser();
      const sealed = first.answer.headers.get('set-cookie');
      void sealed;
      const again = await replayer.get(first.callbackUrl);
      assert.equal(again.status, 400, 'no transaction in this browser');
      const fresh = new FormBrowser();
      const start = await fresh.get(authorizeUrl(down, { clientId: downSeed.publicClient, scope: 'openid' }, pkcePair().challenge), { followRedirects: true });
      const href = /href="([^"]+)">Sign in with Upstream Co</.exec(start.text)![1]!.replace(/&#38;/g, '&');
      const toProvider = await fresh.get(new URL(href, down.issuer).toString());
      const state = new URL(toProvider.location!).searchParams.get('state')!;
      const forged = await fresh.get(`${down.issuer}/login/upstream/callback?code=made-up&state=${state}&iss=${encodeURIComponent(up.issuer)}`);
      assert.equal(forged.status, 400, 'a made-up code');
      const wrongState = await fresh.get(`${down.issuer}/login/upstream/callback?code=x&state=other&iss=${encodeURIComponent(up.issuer)}`);
      assert.equal(wrongState.status, 400);
      const wrongIssuer = await fresh.get(`${down.issuer}/login/upstream/callback?code=x&state=${state}&iss=${encodeURIComponent('https://evil.example')}`);
      assert.equal(wrongIssuer.status, 400, 'RFC 9207: the iss of another server');
      for (const page of [again, forged, wrongState, wrongIssuer]) assert.doesNotMatch(page.headers.get('set-cookie') ?? '', /latchkey_session=[^;]/);
      void cookies;
    });

    test('the CLI adds, lists and removes providers; the secret comes from stdin and is never shown', async () => {
      const env = { ...dbEnv(downDb), LATCHKEY_ALLOW_LOOPBACK_UPSTREAM: 'true', LATCHKEY_ISSUER: down.issuer };
      const added = await runLatchkey(['providers', 'add', 'corp', '--issuer', up.issuer, '--client-id', 'corp-client', '--name', 'Corp SSO', '--client-secret-stdin', '--json'], env, { stdin: 'very-secret-value\n' });
      assert.equal(added.code, 0, added.stderr);
      const json = JSON.parse(added.stdout);
      assert.equal(json.redirect_uri, `${down.issuer}/login/upstream/callback`);
      assert.equal(json.provider.confidential, true);
      assert.ok(!added.stdout.includes('very-secret-value'));
      const rows = await down.server.context.storage.db.kysely.selectFrom('upstream_providers').selectAll().where('id', '=', 'corp').execute();
      assert.ok(!JSON.stringify(rows).includes('very-secret-value'), 'encrypted at rest');
      const listed = await runLatchkey(['providers', 'list'], env);
      assert.match(listed.stdout, /corp\s+Corp SSO/);
      assert.equal((await runLatchkey(['providers', 'remove', 'corp'], env)).code, 0);
      const bad = await runLatchkey(['providers', 'add', 'x', '--issuer', 'ftp://nope', '--client-id', 'c', '--name', 'X'], env);
      assert.notEqual(bad.code, 0);
    });
  });
}
