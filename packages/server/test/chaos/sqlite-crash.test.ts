import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { Registry } from '../../src/registry/registry.ts';
import { sqliteFile } from '../../src/storage/database.ts';
import { Storage } from '../../src/storage/storage.ts';
import { UserRegistry } from '../../src/users/user-registry.ts';
import { FormBrowser, freePort, killLatchkeyProcesses, TEST_SECRET } from '@latchkey/testing';
import { newChain, PASSWORD, REDIRECT_URI, USERNAME, type RefreshChain } from './chains.ts';
import { killNode, logTail, startNode, type LatchkeyNode } from './nodes.ts';
import { profile } from './profile.ts';
import { NoAnswer, pick, Problems, sleep, Traffic, type Creds } from './traffic.ts';

/**
 * Issue 11, chaos: a SQLite server killed with kill -9 while it writes (opaque tokens, each one row;
 * revocations, each a delete; refresh rotations). The file must pass `PRAGMA integrity_check`, and
 * every write the server acknowledged must be in it: a crash may lose only what was never answered.
 */

const API = 'https://notes.example.com';
const SCOPE = 'openid offline_access notes:read';
/** Opaque tokens of each round checked over HTTP after the restart (all of them are checked in the file). */
const HTTP_SAMPLE = 300;

/** What the server answered for each opaque token: issued (200), revocation sent but unanswered, revoked (200). */
type TokenState = 'issued' | 'revoking' | 'revoked';

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('base64url');

describe(`chaos (${profile.name}): SQLite with the server killed during writes`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-chaos-'));
  const traffic = new Traffic();
  const problems = new Problems();

  after(() => {
    killLatchkeyProcesses();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test(`kill -9 during writes (${profile.sqliteKills}x): the file passes integrity_check and holds every acknowledged write`, async (t) => {
    const { service, app } = await seed(dataDir);
    const port = await freePort();
    const env = {
      PORT: String(port),
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_SECRET: TEST_SECRET,
      LATCHKEY_ISSUER: `http://127.0.0.1:${port}`,
      // Longer than a restart takes: the rotation in flight at the kill may have been committed, and
      // its holder, who never got the answer, retries it after the restart (a lost response).
      LATCHKEY_REFRESH_GRACE_SECONDS: '60',
      LATCHKEY_JANITOR_INTERVAL_SECONDS: '0',
      LOG_LEVEL: 'warn',
    };
    const tokens = new Map<string, TokenState>();
    let node = await startNode('sqlite', env);
    const browser = new FormBrowser();
    const chains: RefreshChain[] = [];
    for (let i = 0; i < profile.sqliteChains; i++) {
      chains.push(await newChain(traffic, browser, env.LATCHKEY_ISSUER, node, app, SCOPE));
    }

    for (let round = 1; round <= profile.sqliteKills; round++) {
      const before = new Set(tokens.keys());
      const rotationsBefore = chains.reduce((n, c) => n + c.rotations, 0);
      const load = writeLoad(node, service, tokens, chains);
      // Somewhere in the second half of the load, with requests in flight.
      await sleep(profile.sqliteLoadMs * (0.5 + Math.random() / 2));
      for (const deadline = Date.now() + 2000; traffic.inFlightAt(node) === 0 && Date.now() < deadline; ) await sleep(1);
      const inFlight = traffic.inFlightAt(node);
      const exit = await killNode(node);
      assert.equal(exit.signal, 'SIGKILL');
      await load;
      assert.deepEqual(traffic.serverErrors, [], `5xx before the kill\n${logTail(node)}`);
      assert.deepEqual(traffic.silences, [], 'the server answered every request before the kill');
      assert.deepEqual(problems.list, [], `${problems.count} wrong answers before the kill`);

      const issuedThisRound = [...tokens.keys()].filter((tok) => !before.has(tok));
      const rotations = chains.reduce((n, c) => n + c.rotations, 0) - rotationsBefore;
      assert.ok(issuedThisRound.length > 0 && rotations > 0, 'the server wrote before it was killed');

      // The file as the crash left it, before any server touches it again.
      checkFile(dataDir, tokens);

      node = await startNode(`sqlite-restart-${round}`, env);
      const sample = issuedThisRound.length <= HTTP_SAMPLE ? issuedThisRound : shuffled(issuedThisRound).slice(0, HTTP_SAMPLE);
      await inParallel(sample, 4, async (token) => {
        const seen = await traffic.post(node, '/introspect', { token }, service);
        const state = tokens.get(token);
        if (state === 'issued') assert.equal(seen.body?.active, true, `an acknowledged token is not active after the crash: ${seen.text}`);
        if (state === 'revoked') assert.equal(seen.text, '{"active":false}', 'an acknowledged revocation was lost');
      });
      // Each chain goes on from its last acknowledged refresh token (retried, if its rotation was in
      // flight at the kill, within the grace window).
      for (const chain of chains) {
        const res = await chain.refresh(traffic, node);
        assert.equal(res.status, 200, `a refresh chain after the crash (${chain.rotations} rotations acknowledged): ${res.text}`);
        assert.equal((await traffic.post(node, '/introspect', { token: chain.accessToken }, app)).body?.active, true);
      }
      const revoked = [...tokens.values()].filter((s) => s === 'revoked').length;
      t.diagnostic(
        `round ${round}: killed with ${inFlight} requests in flight after ${issuedThisRound.length} tokens and ${rotations} rotations ` +
          `(${revoked} revocations so far); ${traffic.summary()}`,
      );
    }

    const stopped = await node.process.stop();
    assert.deepEqual(stopped, { code: 0, signal: null }, logTail(node));
    checkFile(dataDir, tokens);
    assert.deepEqual(traffic.serverErrors, [], logTail(node));
    assert.deepEqual(traffic.silences, []);
  });

  /** Writes until the node dies: opaque tokens, revocations of them, and refresh rotations. */
  function writeLoad(node: LatchkeyNode, service: Creds, tokens: Map<string, TokenState>, chains: RefreshChain[]): Promise<void> {
    const alive = () => node.killedAt === undefined;
    const quietly = (err: unknown) => {
      // The kill cuts requests off: no answer, nothing acknowledged. Anything else is a problem.
      if (!(err instanceof NoAnswer)) problems.add((err as Error).message);
    };
    const writer = async () => {
      for (let n = 1; alive() && traffic.sent < profile.maxRequests * profile.sqliteKills; n++) {
        try {
          const live = n % 4 === 0 ? [...tokens].filter(([, s]) => s === 'issued') : [];
          if (live.length > 0) {
            const [token] = pick(live);
            // Sent: until it is answered, the token may or may not be revoked.
            tokens.set(token, 'revoking');
            const res = await traffic.post(node, '/revoke', { token }, service);
            if (res.status === 200) tokens.set(token, 'revoked');
            else problems.add(`revoke: ${res.status} ${res.text}`);
          } else {
            const res = await traffic.post(node, '/token', { grant_type: 'client_credentials' }, service);
            if (res.status === 200) tokens.set(res.body.access_token, 'issued');
            else problems.add(`client_credentials: ${res.status} ${res.text}`);
          }
        } catch (err) {
          quietly(err);
        }
      }
    };
    const rotator = async (chain: RefreshChain) => {
      while (alive()) {
        try {
          const res = await chain.refresh(traffic, node);
          if (res.status !== 200) {
            problems.add(`refresh: ${res.status} ${res.text}`);
            return;
          }
        } catch (err) {
          quietly(err);
        }
      }
    };
    return Promise.all([...Array.from({ length: profile.sqliteWorkers }, writer), ...chains.map(rotator)]).then(() => undefined);
  }
});

/** The API (opaque tokens: every issuance is a row), the clients and the user, written before any server runs. */
async function seed(dataDir: string): Promise<{ service: Creds; app: Creds }> {
  const storage = await Storage.open({ databaseUrl: undefined, dataDir });
  try {
    const registry = new Registry(storage);
    await registry.createResource({ identifier: API, scopes: ['notes:read'], accessTokenFormat: 'opaque' });
    const svc = await registry.createClient({ name: 'svc', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['notes:read'] });
    const web = await registry.createClient({
      name: 'web',
      type: 'confidential',
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: SCOPE.split(' '),
      redirectUris: [REDIRECT_URI],
      firstParty: true,
    });
    await new UserRegistry(storage).create({ username: USERNAME, password: PASSWORD });
    return {
      service: { clientId: svc.client.clientId, clientSecret: svc.clientSecret! },
      app: { clientId: web.client.clientId, clientSecret: web.clientSecret! },
    };
  } finally {
    await storage.close();
  }
}

/**
 * Opens the file the way the next server would (replaying the WAL) and checks it: integrity and
 * foreign keys intact, every acknowledged opaque token stored (by its SHA-256), every acknowledged
 * revocation gone; a revocation that was never answered may have gone either way.
 */
function checkFile(dataDir: string, tokens: Map<string, TokenState>): void {
  const db = new SQLite(sqliteFile(dataDir), { fileMustExist: true });
  try {
    assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    assert.deepEqual(db.pragma('foreign_key_check'), []);
    const stored = db.prepare('select 1 from opaque_access_tokens where token_hash = ?').pluck();
    const lost: string[] = [];
    const kept: string[] = [];
    for (const [token, state] of tokens) {
      const present = stored.get(sha256(token)) !== undefined;
      if (state === 'issued' && !present) lost.push(token.slice(0, 12));
      if (state === 'revoked' && present) kept.push(token.slice(0, 12));
    }
    assert.deepEqual(lost, [], 'acknowledged tokens missing from the file');
    assert.deepEqual(kept, [], 'acknowledged revocations missing from the file');
  } finally {
    db.close();
  }
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** Runs `work` over `items`, `concurrency` at a time. */
async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
