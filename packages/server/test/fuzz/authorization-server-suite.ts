/**
 * Fuzz suite of the authorization server (issue 11), on SQLite: property-based tests (fast-check)
 * that send more than 100,000 generated requests, in process through Fastify's inject, to every
 * endpoint: valid requests of every grant and every client authentication (token and pushed
 * authorization requests with and without DPoP proofs, valid or bent) with parameters removed,
 * repeated, replaced by hostile values or moved, registration documents (RFC 7591, RFC 7592: JSON
 * bodies) with members removed, duplicated or of the wrong JSON type, and fully random requests. Properties: no 5xx, every
 * error in its RFC shape, pages with their security headers, redirects only to registered redirect
 * URIs and with `iss`, nothing written to the database for a refused request (exclusions and their
 * reasons: db-writes.ts), registrations and their changes only with the right token.
 *
 * The requests are shared among three test files, so that they run side by side and each stays well
 * within the runner's time limit: token-endpoint.test.ts, pages.test.ts and other-endpoints.test.ts.
 * Replay a failure with the seed it prints (and the path, for one property):
 *   LATCHKEY_FUZZ_SEED=123 npm test -- packages/server/test/fuzz/token-endpoint.test.ts
 *   LATCHKEY_FUZZ_SEED=123 LATCHKEY_FUZZ_PATH='17:2:1' node --conditions=@latchkey/source --import tsx --test \
 *     --test-name-pattern='/token: client_credentials' packages/server/test/fuzz/token-endpoint.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { sqlite, type TestDatabase } from '@latchkey/testing';
import { SqliteTables } from './db-writes.ts';
import { announceSeed, fuzz, runs } from './fuzz-run.ts';
import { Harness } from './harness.ts';
import { sendRawRequests, rawRequest } from './raw-http.ts';
import {
  authorizeBase,
  consentBase,
  deviceAuthorizationBase,
  deviceBase,
  introspectOrRevokeBase,
  loginBase,
  mutated,
  parBase,
  randomSpec,
  tokenBase,
  userinfoBase,
  type Grant,
  type Spec,
} from './specs.ts';
import { initialTokenRegisterBase, manageBase, registerBase, registrationAddress, registrationMutations } from './registration.ts';
import { World } from './world.ts';

/** Generated requests per property, by test file; together at least 100,000 (asserted by each file). */
const SHARES = {
  // Half the token requests carry a DPoP proof (a signature to check, a jti to record): fewer of them.
  token: { clientCredentials: 5_000, authorizationCode: 6_000, refreshToken: 5_500, deviceCode: 5_500, tokenExchange: 5_500 },
  pages: { authorize: 12_000, login: 5_000, consent: 5_000, devicePages: 5_000 },
  others: {
    introspect: 7_000,
    revoke: 7_000,
    deviceAuthorization: 6_000,
    userinfo: 8_000,
    pushedAuthorization: 5_000,
    random: 9_000,
    rawHttp: 1_000,
    register: 2_700,
    registerWithInitialToken: 800,
    registrationManagement: 2_500,
  },
};
const sum = (shares: Record<string, number>) => Object.values(shares).reduce((a, b) => a + b, 0);
const TOTAL = sum(SHARES.token) + sum(SHARES.pages) + sum(SHARES.others);

/** One part of the fuzz suite of the authorization server, on a server of its own. */
export function fuzzAuthorizationServer(part: keyof typeof SHARES): void {
describe(`fuzz (${part}): the authorization server answers generated requests with no 5xx, RFC errors and no writes for refusals (sqlite)`, () => {
  let db: TestDatabase;
  let world: World;
  let tables: SqliteTables;
  let harness: Harness;
  const started = Date.now();

  before(async () => {
    announceSeed(`authorization server, ${part}`);
    db = await sqlite.create();
    world = await World.create(db);
    tables = new SqliteTables(world.ctx.storage.db.sqlite!);
    harness = new Harness(world, tables);
  });

  after(async () => {
    await tables?.close();
    await world?.close();
    await db?.drop();
  });

  /** Each property is named after its test, so the replay command's name pattern selects it alone. */
  const property = (spec: fc.Arbitrary<Spec>, share: number, label?: string) => async (t: TestContext) => {
    await fuzz(t.name, spec, runs(share), (s) => harness.check(s, label));
  };
  const tokenGrant = (grant: Grant, share: number) => property(mutated(tokenBase(fc.constant(grant))), share);

  if (part === 'token') {
    const shares = SHARES.token;
    test('/token: client_credentials with every client authentication, mutated', tokenGrant('client_credentials', shares.clientCredentials));
    test('/token: authorization_code with every client authentication, mutated', tokenGrant('authorization_code', shares.authorizationCode));
    test('/token: refresh_token with every client authentication, mutated', tokenGrant('refresh_token', shares.refreshToken));
    test('/token: device_code (approved and pending) with every client authentication, mutated', tokenGrant('device_code', shares.deviceCode));
    test('/token: token exchange (with and without an actor token) with every client authentication, mutated', tokenGrant('token_exchange', shares.tokenExchange));
  }

  if (part === 'pages') {
    const shares = SHARES.pages;
    test('/authorize: GET and POST, with and without a session, mutated', property(mutated(authorizeBase), shares.authorize));
    test('/login: the form shown and submitted (few with a valid CSRF token: argon2; 429 once rate limited), mutated', property(mutated(loginBase), shares.login));
    test('/consent: the form shown and submitted, mutated', property(mutated(consentBase), shares.consent));
    test('/device and /device/login: the verification page forms, mutated', property(mutated(deviceBase), shares.devicePages));
  }

  if (part === 'others') {
    const shares = SHARES.others;
    test('/introspect: every client authentication and token kind, mutated', property(mutated(introspectOrRevokeBase('introspect')), shares.introspect));
    test('/revoke: every client authentication and token kind, mutated', property(mutated(introspectOrRevokeBase('revoke')), shares.revoke));
    test('/device_authorization: every client authentication, mutated', property(mutated(deviceAuthorizationBase), shares.deviceAuthorization));
    test('/userinfo: GET and POST, token in the header or the body, mutated', property(mutated(userinfoBase), shares.userinfo));
    test('/par (RFC 9126): pushed authorization requests with every client authentication, with and without a DPoP proof and dpop_jkt, mutated', property(
      mutated(parBase),
      shares.pushedAuthorization,
    ));
    test('/register (RFC 7591, open): registration documents of every kind as JSON, mutated, from many addresses and one over the rate limit', property(
      fc.record({ base: registerBase, mutations: registrationMutations, from: registrationAddress }),
      shares.register,
    ));
    // The same server with LATCHKEY_REGISTRATION=initial-access-token for the length of this property
    // (the policy is read on each request; only `off` is fixed when the routes are made).
    test('/register (RFC 7591, initial-access-token): live, single-use, used-up, expired, revoked, wrong or no initial access token, mutated', async (t) => {
      const settings = world.ctx.settings;
      const policy = settings.registration;
      settings.registration = 'initial-access-token';
      try {
        await property(fc.record({ base: initialTokenRegisterBase, mutations: registrationMutations, from: registrationAddress }), shares.registerWithInitialToken)(t);
      } finally {
        settings.registration = policy;
      }
    });
    test('/register/{client_id} (RFC 7592): read, update and delete with the right, a wrong, a replaced, another client\'s or no token, mutated', property(
      fc.record({ base: manageBase, mutations: registrationMutations, from: registrationAddress }),
      shares.registrationManagement,
    ));
    test('any path: fully random requests', property(randomSpec, shares.random, 'random'));
    test('over a real socket: malformed HTTP, duplicate and oversized headers, bad framing', async (t) => {
      await fuzz(t.name, rawRequest, runs(shares.rawHttp), (spec) => sendRawRequests(world, harness.counter, spec));
    });
  }

  test('the run sent its share of the 100,000 generated requests, and the server logged no error', () => {
    const total = harness.counter.total;
    console.log(`# fuzz (${part}): ${total} requests in ${((Date.now() - started) / 1000).toFixed(1)} s\n# ${harness.counter.report().replace(/\n/g, '\n# ')}`);
    console.log(`# answers: ${harness.statuses.report().replace(/\n/g, ', ')}`);
    // The three parts together: at least 100,000.
    assert.ok(TOTAL >= 100_000, `the shares add up to ${TOTAL}, less than 100,000`);
    const expected = Object.values(SHARES[part]).reduce((all, share) => all + runs(share), 0);
    assert.ok(total >= expected, `only ${total} of ${expected} requests were sent`);
    const errors = world.running.logs().split('\n').filter((line) => /"level":(50|60)/.test(line));
    assert.deepEqual(errors.slice(0, 5), [], 'the server logged errors');
  });
});
}
