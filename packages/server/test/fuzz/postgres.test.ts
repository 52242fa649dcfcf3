/**
 * The fuzz suite's PostgreSQL share (issue 11): the same generated requests as
 * authorization-server-suite.ts, fewer of them, against PostgreSQL, whose text cannot hold NUL and
 * whose errors differ from SQLite's. Same properties; the tables are compared by content before and
 * after every refused request. Skipped (with the reason) where PostgreSQL is not reachable, except in CI.
 *
 *   LATCHKEY_FUZZ_SEED=123 npm test -- packages/server/test/fuzz/postgres.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { backends, type TestDatabase } from '@latchkey/testing';
import { PostgresTables } from './db-writes.ts';
import { announceSeed, fuzz, runs } from './fuzz-run.ts';
import { Harness } from './harness.ts';
import {
  GRANTS,
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
} from './specs.ts';
import { World } from './world.ts';

const SHARE = 2_500;

const postgres = (await backends()).find((b) => b.name === 'postgres')!;

describe('fuzz: the authorization server on PostgreSQL answers generated requests with no 5xx, RFC errors and no writes for refusals (postgres)', { skip: postgres.skip }, () => {
  let db: TestDatabase;
  let world: World;
  let tables: PostgresTables;
  let harness: Harness;

  before(async () => {
    announceSeed('authorization server, postgres');
    db = await postgres.create();
    world = await World.create(db);
    tables = await PostgresTables.open(db);
    harness = new Harness(world, tables);
  });

  after(async () => {
    await tables?.close();
    await world?.close();
    await db?.drop();
  });

  test('every endpoint, mutated and random requests (postgres)', async (t) => {
    const spec = fc.oneof(
      { weight: 6, arbitrary: mutated(tokenBase(fc.constantFrom(...GRANTS))) },
      { weight: 2, arbitrary: mutated(authorizeBase) },
      { weight: 1, arbitrary: mutated(loginBase) },
      { weight: 1, arbitrary: mutated(consentBase) },
      { weight: 1, arbitrary: mutated(deviceBase) },
      { weight: 2, arbitrary: mutated(introspectOrRevokeBase('introspect')) },
      { weight: 2, arbitrary: mutated(introspectOrRevokeBase('revoke')) },
      { weight: 1, arbitrary: mutated(deviceAuthorizationBase) },
      { weight: 2, arbitrary: mutated(userinfoBase) },
      { weight: 1, arbitrary: mutated(parBase) },
      { weight: 1, arbitrary: randomSpec },
    );
    await fuzz(t.name, spec, runs(SHARE), (s) => harness.check(s));
  });

  test('the run sent its share of requests, and the server logged no error (postgres)', () => {
    console.log(`# fuzz (postgres): ${harness.counter.total} requests\n# ${harness.counter.report().replace(/\n/g, '\n# ')}`);
    assert.ok(harness.counter.total >= runs(SHARE), `only ${harness.counter.total} requests were sent`);
    const errors = world.running.logs().split('\n').filter((line) => /"level":(50|60)/.test(line));
    assert.deepEqual(errors.slice(0, 5), [], 'the server logged errors');
  });
});
