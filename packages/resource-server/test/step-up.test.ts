import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { API, dpopProver, type DpopProver, type Latchkey, startLatchkey } from '@latchkey/testing';
import {
  ConfigurationError,
  createBearerAuth,
  createIntrospector,
  createValidator,
  InsufficientUserAuthenticationError,
  TokenValidationError,
  type AccessTokenClaims,
  type BearerAuthOptions,
  type TokenVerifier,
} from '../src/index.ts';
import * as expressAuth from '../src/express.ts';
import * as fastifyAuth from '../src/fastify.ts';
import * as fetchAuth from '../src/fetch.ts';
import { accessClaims, signWithServerKey } from './helpers/tokens.ts';

/**
 * RFC 9470 (step-up authentication) at a protected resource, over real HTTP, in each framework:
 * requireAcr, requireAuthTime and requireAuthentication answer 401 insufficient_user_authentication
 * with acr_values and max_age in the challenge of the scheme the request used.
 */
const ALGS = 'algs="ES256 ES384 PS256 RS256 EdDSA"';
const PASSWORD = 'urn:latchkey:acr:password';
const MFA = 'urn:latchkey:acr:mfa';
const PHR = 'phr';
const ACR_REFUSED = 'a different authentication level is required';
const TOO_OLD = 'more recent authentication is required';

const now = () => Math.floor(Date.now() / 1000);

/**
 * The same API in each framework, every route behind bearerAuth:
 * - GET /mfa: requireAcr(MFA, PHR)
 * - GET /recent: requireAuthTime(300)
 * - GET /payout: requireAuthentication({ acrValues: [PHR], maxAgeSeconds: 60 })
 * - GET /password: requireAcr(PASSWORD) (what Latchkey's sign-ins give today)
 * - GET /write-mfa: requireScopes('orders:write'), then requireAcr(MFA)
 * Each answers with the authentication claims its handler received.
 */
interface RunningApp {
  url: string;
  close(): Promise<void>;
}
type AppFactory = (verifier: TokenVerifier, options?: BearerAuthOptions) => Promise<RunningApp>;

const echo = (auth: AccessTokenClaims, via: string) => ({ via, sub: auth.sub, acr: auth.acr ?? null, amr: auth.amr ?? null, auth_time: auth.auth_time ?? null });

const fastifyApp: AppFactory = async (verifier, options = {}) => {
  const app = Fastify();
  const auth = fastifyAuth.bearerAuth(verifier, { realm: 'orders', ...options });
  const route = (path: string, ...checks: ReturnType<typeof fastifyAuth.requireAcr>[]) =>
    app.get(path, { preHandler: [auth, ...checks] }, async (request) => echo(request.auth, 'fastify'));
  route('/mfa', fastifyAuth.requireAcr(MFA, PHR));
  route('/recent', fastifyAuth.requireAuthTime(300));
  route('/payout', fastifyAuth.requireAuthentication({ acrValues: [PHR], maxAgeSeconds: 60 }));
  route('/password', fastifyAuth.requireAcr(PASSWORD));
  route('/write-mfa', fastifyAuth.requireScopes('orders:write'), fastifyAuth.requireAcr(MFA));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
};

const expressApp: AppFactory = async (verifier, options = {}) => {
  const app = express();
  const auth = expressAuth.bearerAuth(verifier, { realm: 'orders', ...options });
  const route = (path: string, ...checks: ReturnType<typeof expressAuth.requireAcr>[]) =>
    app.get(path, auth, ...checks, (req: express.Request, res: express.Response) => {
      res.json(echo(req.auth, 'express'));
    });
  route('/mfa', expressAuth.requireAcr(MFA, PHR));
  route('/recent', expressAuth.requireAuthTime(300));
  route('/payout', expressAuth.requireAuthentication({ acrValues: [PHR], maxAgeSeconds: 60 }));
  route('/password', expressAuth.requireAcr(PASSWORD));
  route('/write-mfa', expressAuth.requireScopes('orders:write'), expressAuth.requireAcr(MFA));
  return listen(createServer(app));
};

const fetchApp: AppFactory = async (verifier, options = {}) => {
  const handler: fetchAuth.AuthenticatedHandler = async (_request, auth) => Response.json(echo(auth, 'fetch'));
  const wrap = (inner: fetchAuth.AuthenticatedHandler) => fetchAuth.withBearerAuth(verifier, inner, { realm: 'orders', ...options });
  const routes: Record<string, (request: Request) => Promise<Response>> = {
    '/mfa': wrap(fetchAuth.requireAcr(MFA, PHR)(handler)),
    '/recent': wrap(fetchAuth.requireAuthTime(300)(handler)),
    '/payout': wrap(fetchAuth.requireAuthentication({ acrValues: [PHR], maxAgeSeconds: 60 })(handler)),
    '/password': wrap(fetchAuth.requireAcr(PASSWORD)(handler)),
    '/write-mfa': wrap(fetchAuth.requireScopes('orders:write')(fetchAuth.requireAcr(MFA)(handler))),
  };
  return listen(
    createServer((req, res) => {
      const route = routes[new URL(req.url!, 'http://x').pathname];
      if (!route) return void res.writeHead(404).end();
      route(toRequest(req)).then(
        async (response) => {
          res.writeHead(response.status, Object.fromEntries(response.headers));
          res.end(Buffer.from(await response.arrayBuffer()));
        },
        () => void res.writeHead(500).end(),
      );
    }),
  );
};

function toRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return new Request(`http://${req.headers.host}${req.url}`, { method: req.method!, headers });
}

async function listen(server: Server): Promise<RunningApp> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

const FRAMEWORKS: [string, AppFactory][] = [
  ['fastify', fastifyApp],
  ['express', expressApp],
  ['fetch', fetchApp],
];

describe('step-up authentication (RFC 9470) at the resource server', () => {
  let l: Latchkey;
  let key: DpopProver;
  const token = (overrides: Record<string, unknown>) => signWithServerKey(l, accessClaims(l.issuer, overrides));

  before(async () => {
    l = await startLatchkey();
    key = await dpopProver();
  });
  after(async () => {
    await l?.close();
  });

  for (const [name, start] of FRAMEWORKS) {
    describe(name, () => {
      let app: RunningApp;
      before(async () => {
        app = await start(createValidator({ issuer: l.issuer, audience: API }));
      });
      after(async () => {
        await app?.close();
      });

      const get = (path: string, bearer: string) => fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${bearer}` } });

      test('an accepted acr reaches the handler, with amr and auth_time', async () => {
        const authTime = now() - 30;
        for (const acr of [MFA, PHR]) {
          const res = await get('/mfa', await token({ acr, amr: ['pwd', 'otp', 'mfa'], auth_time: authTime }));
          assert.equal(res.status, 200, acr);
          assert.deepEqual(await res.json(), { via: name, sub: 'svc-a', acr, amr: ['pwd', 'otp', 'mfa'], auth_time: authTime });
        }
      });

      test('a refused acr: 401 insufficient_user_authentication with acr_values (RFC 9470 §3)', async (t) => {
        const res = await get('/mfa', await token({ acr: PASSWORD, amr: ['pwd'], auth_time: now() }));
        assert.equal(res.status, 401);
        const challenge = res.headers.get('www-authenticate');
        if (name === 'fastify') t.diagnostic(`www-authenticate: ${challenge}`);
        assert.equal(
          challenge,
          `Bearer realm="orders", error="insufficient_user_authentication", error_description="${ACR_REFUSED}", acr_values="${MFA} ${PHR}", DPoP realm="orders", ${ALGS}`,
        );
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.match(res.headers.get('content-type')!, /^application\/json/);
        assert.deepEqual(await res.json(), { error: 'insufficient_user_authentication', error_description: ACR_REFUSED });
      });

      test('no acr at all (a client-credentials token) is refused the same way', async () => {
        const res = await get('/mfa', await token({}));
        assert.equal(res.status, 401);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer realm="orders", error="insufficient_user_authentication", error_description="${ACR_REFUSED}", acr_values="${MFA} ${PHR}", DPoP realm="orders", ${ALGS}`,
        );
        // Matched exactly: a prefix, another case or a list is not the value.
        for (const acr of ['urn:latchkey:acr:MFA', 'urn:latchkey:acr', `${MFA} ${PHR}`]) {
          assert.equal((await get('/mfa', await token({ acr }))).status, 401, acr);
        }
      });

      test('auth_time within max_age passes (with the 5 s leeway); too old or missing: 401 with max_age', async (t) => {
        for (const age of [0, 60, 299, 302]) {
          assert.equal((await get('/recent', await token({ auth_time: now() - age }))).status, 200, `${age} s old`);
        }
        for (const [label, overrides] of [['320 s old', { auth_time: now() - 320 }], ['missing', {}], ['a day old', { auth_time: now() - 86400 }]] as const) {
          const res = await get('/recent', await token(overrides));
          assert.equal(res.status, 401, label);
          const challenge = res.headers.get('www-authenticate');
          if (name === 'fastify' && label === 'missing') t.diagnostic(`www-authenticate: ${challenge}`);
          assert.equal(
            challenge,
            `Bearer realm="orders", error="insufficient_user_authentication", error_description="${TOO_OLD}", max_age="300", DPoP realm="orders", ${ALGS}`,
            label,
          );
          assert.deepEqual(await res.json(), { error: 'insufficient_user_authentication', error_description: TOO_OLD });
        }
      });

      test('requireAuthentication: the challenge names acr_values and max_age, whichever failed', async (t) => {
        assert.equal((await get('/payout', await token({ acr: PHR, auth_time: now() - 10 }))).status, 200);
        const cases = [
          [{ acr: PHR, auth_time: now() - 600 }, TOO_OLD],
          [{ acr: MFA, auth_time: now() - 10 }, ACR_REFUSED],
          [{ auth_time: now() }, ACR_REFUSED],
        ] as const;
        for (const [overrides, description] of cases) {
          const res = await get('/payout', await token(overrides));
          assert.equal(res.status, 401, JSON.stringify(overrides));
          const challenge = res.headers.get('www-authenticate');
          if (name === 'fastify' && description === TOO_OLD) t.diagnostic(`www-authenticate: ${challenge}`);
          assert.equal(
            challenge,
            `Bearer realm="orders", error="insufficient_user_authentication", error_description="${description}", acr_values="${PHR}", max_age="60", DPoP realm="orders", ${ALGS}`,
          );
        }
      });

      test('a DPoP-bound token: the error is in the DPoP challenge (RFC 9449 §7.1)', async (t) => {
        const call = async (path: string, bound: string) =>
          fetch(`${app.url}${path}`, {
            headers: { authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu: `${app.url}${path}`, accessToken: bound }) },
          });
        assert.equal((await call('/mfa', await token({ acr: MFA, cnf: { jkt: key.jkt } }))).status, 200, 'control: a bound token that meets the acr');
        let res = await call('/mfa', await token({ acr: PASSWORD, cnf: { jkt: key.jkt } }));
        assert.equal(res.status, 401);
        const challenge = res.headers.get('www-authenticate');
        if (name === 'fastify') t.diagnostic(`www-authenticate: ${challenge}`);
        assert.equal(
          challenge,
          `Bearer realm="orders", DPoP realm="orders", error="insufficient_user_authentication", error_description="${ACR_REFUSED}", acr_values="${MFA} ${PHR}", ${ALGS}`,
        );
        res = await call('/recent', await token({ auth_time: now() - 3600, cnf: { jkt: key.jkt } }));
        assert.equal(res.status, 401);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer realm="orders", DPoP realm="orders", error="insufficient_user_authentication", error_description="${TOO_OLD}", max_age="300", ${ALGS}`,
        );
      });

      test('composed after requireScopes: a missing scope is 403 first, then the acr is checked', async () => {
        let res = await get('/write-mfa', await token({ acr: MFA }));
        assert.equal(res.status, 403);
        assert.equal(((await res.json()) as { error: string }).error, 'insufficient_scope');
        res = await get('/write-mfa', await token({ scope: 'orders:read orders:write', acr: PASSWORD }));
        assert.equal(res.status, 401);
        assert.equal(((await res.json()) as { error: string }).error, 'insufficient_user_authentication');
        assert.equal((await get('/write-mfa', await token({ scope: 'orders:read orders:write', acr: MFA }))).status, 200);
      });

      test("a real sign-in's token (password, today) meets requireAcr of the password class, not of mfa", async () => {
        const user = await l.userToken('openid orders:read');
        let res = await get('/password', user);
        assert.equal(res.status, 200);
        const body = (await res.json()) as { acr: string; amr: string[]; auth_time: number };
        assert.equal(body.acr, PASSWORD);
        assert.deepEqual(body.amr, ['pwd']);
        assert.ok(Math.abs(body.auth_time - now()) < 600, 'auth_time is the sign-in');
        res = await get('/mfa', user);
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /error="insufficient_user_authentication", .*acr_values="urn:latchkey:acr:mfa phr"/);
        assert.equal((await get('/recent', user)).status, 200);
      });
    });
  }

  test("fetch: a step-up wrapper keeps the inner requireScopes' scope in withBearerAuth's 401 (RFC 9728)", async () => {
    const handler = fetchAuth.withBearerAuth(
      createValidator({ issuer: l.issuer, audience: API }),
      fetchAuth.requireAcr(MFA)(fetchAuth.requireScopes('orders:write')(async () => new Response('ok'))),
      { realm: 'orders', resourceMetadata: true },
    );
    const res = await handler(new Request('http://127.0.0.1/payments'));
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="orders", scope="orders:write", resource_metadata=/);
  });

  test('the validator passes acr, amr and auth_time through; mistyped ones are the claims check', async () => {
    const validator = createValidator({ issuer: l.issuer, audience: API });
    const claims = await validator.validate(await token({ acr: MFA, amr: ['pwd', 'otp'], auth_time: 1_700_000_000 }));
    assert.equal(claims.acr, MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
    assert.equal(claims.auth_time, 1_700_000_000);
    const none = await validator.validate(await token({}));
    assert.ok(!('acr' in none) && !('amr' in none) && !('auth_time' in none), 'absent claims stay absent');
    for (const overrides of [{ acr: 42 }, { acr: '' }, { acr: [MFA] }, { amr: 'pwd' }, { amr: ['pwd', 1] }, { auth_time: '1700000000' }, { auth_time: null }]) {
      await assert.rejects(
        validator.validate(await token(overrides)),
        (err: unknown) => err instanceof TokenValidationError && err.check === 'claims',
        JSON.stringify(overrides),
      );
    }
  });

  test('core: requireAcr, requireAuthTime and errorReply without a framework', async () => {
    const bearer = createBearerAuth(createValidator({ issuer: l.issuer, audience: API }), { realm: 'orders', dpop: 'disabled' });
    const { claims } = await bearer.authenticate({ authorization: `Bearer ${await token({ acr: PASSWORD, auth_time: now() - 100 })}`, bodyToken: undefined });
    bearer.requireAcr(PASSWORD)(claims);
    bearer.requireAuthTime(120)(claims);
    bearer.requireAuthentication({ acrValues: [MFA, PASSWORD], maxAgeSeconds: 120 })(claims);
    let caught: unknown;
    try {
      bearer.requireAuthTime(30)(claims);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof InsufficientUserAuthenticationError);
    assert.equal(caught.reason, 'auth_time');
    assert.equal(caught.maxAge, 30);
    assert.deepEqual(bearer.errorReply(caught), {
      status: 401,
      headers: {
        'cache-control': 'no-store',
        'www-authenticate': `Bearer realm="orders", error="insufficient_user_authentication", error_description="${TOO_OLD}", max_age="30"`,
        'content-type': 'application/json; charset=utf-8',
      },
      body: { error: 'insufficient_user_authentication', error_description: TOO_OLD },
    });
    assert.throws(() => bearer.requireAcr(MFA)(claims), (err: unknown) => err instanceof InsufficientUserAuthenticationError && err.reason === 'acr');
  });

  test('requirements are checked at creation', () => {
    const bearer = createBearerAuth(createValidator({ issuer: 'https://auth.example.com', audience: API }));
    assert.throws(() => fastifyAuth.requireAcr(), ConfigurationError);
    assert.throws(() => expressAuth.requireAcr('urn:a b'), ConfigurationError);
    assert.throws(() => fetchAuth.requireAcr('a"b'), ConfigurationError);
    assert.throws(() => bearer.requireAcr(''), ConfigurationError);
    for (const bad of [-1, 1.5, Number.NaN, '300' as unknown as number]) {
      assert.throws(() => fastifyAuth.requireAuthTime(bad), ConfigurationError, String(bad));
    }
    assert.throws(() => expressAuth.requireAuthentication({}), ConfigurationError);
    assert.throws(() => fetchAuth.requireAuthentication({ acrValues: [] }), ConfigurationError);
    assert.throws(() => bearer.requireAuthentication({ maxAgeSeconds: -5 }), ConfigurationError);
    bearer.requireAuthTime(0);
  });
});

/** RFC 9470 §6.2: introspection returns acr and auth_time; the introspector maps them, and the checks use them. */
describe('step-up with introspection (opaque tokens)', () => {
  let l: Latchkey;

  before(async () => {
    l = await startLatchkey({ accessTokenFormat: 'opaque' });
  });
  after(async () => {
    await l?.close();
  });

  const introspector = (fetchImpl?: typeof fetch) =>
    createIntrospector({ issuer: l.issuer, clientId: l.apiClient[0], clientSecret: l.apiClient[1], cacheSeconds: 0, ...(fetchImpl ? { fetch: fetchImpl } : {}) });

  /** Latchkey's own introspection response, amended as another issuer's might be. */
  const amending = (extra: Record<string, unknown>): typeof fetch => async (input, init) => {
    const res = await fetch(input, init);
    if (!String(input).endsWith('/introspect')) return res;
    const body = { ...((await res.json()) as Record<string, unknown>), ...extra };
    return new Response(JSON.stringify(body), { status: res.status, headers: { 'content-type': 'application/json' } });
  };

  test("an opaque token from a real sign-in: the introspection's acr, amr and auth_time are the claims'", async () => {
    const opaque = await l.userToken('openid orders:read');
    assert.ok(opaque.startsWith('lko_'));
    const claims = await introspector().introspect(opaque);
    assert.equal(claims.acr, PASSWORD);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(typeof claims.auth_time, 'number');
    assert.ok(Math.abs(claims.auth_time! - now()) < 600);
    // A client-credentials token has none: no user signed in.
    const service = await introspector().introspect(await l.token());
    assert.equal(service.acr, undefined);
    assert.equal(service.auth_time, undefined);
  });

  for (const [name, start] of FRAMEWORKS) {
    test(`${name}: opaque tokens through the step-up checks`, async () => {
      const opaque = await l.userToken('openid orders:read');
      const app = await start(introspector());
      try {
        const get = (path: string, bearer = opaque) => fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
        assert.equal((await get('/password')).status, 200);
        assert.equal((await get('/recent')).status, 200);
        let res = await get('/mfa');
        assert.equal(res.status, 401);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer realm="orders", error="insufficient_user_authentication", error_description="${ACR_REFUSED}", acr_values="${MFA} ${PHR}", DPoP realm="orders", ${ALGS}`,
        );
        // A client-credentials token has no auth_time: refused where a recent sign-in is needed.
        res = await get('/recent', await l.token());
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /error="insufficient_user_authentication", error_description="more recent authentication is required", max_age="300"/);
      } finally {
        await app.close();
      }
    });
  }

  test('an issuer whose response says an older sign-in or a stronger class is held to it; mistyped ones are refused', async () => {
    const opaque = await l.userToken('openid orders:read');
    const app = await fetchApp(introspector(amending({ auth_time: now() - 3600, acr: MFA })));
    try {
      const get = (path: string) => fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${opaque}` } });
      assert.equal((await get('/mfa')).status, 200, 'acr from the response');
      const res = await get('/recent');
      assert.equal(res.status, 401, 'auth_time from the response');
      assert.match(res.headers.get('www-authenticate')!, /max_age="300"/);
    } finally {
      await app.close();
    }
    for (const extra of [{ acr: 3 }, { amr: 'pwd' }, { auth_time: 'yesterday' }]) {
      await assert.rejects(
        introspector(amending(extra)).introspect(opaque),
        (err: unknown) => err instanceof TokenValidationError && err.check === 'claims',
        JSON.stringify(extra),
      );
    }
  });
});
