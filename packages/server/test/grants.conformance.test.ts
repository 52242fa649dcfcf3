import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AuthorizationCode, Grant } from '../src/storage/grant-store.ts';
import { Storage } from '../src/storage/storage.ts';
import { UserRegistry } from '../src/users/user-registry.ts';
import { backends, type TestDatabase } from '@latchkey/testing';

/** The storage under the authorization code grant (docs/security.md C24-C26, C30), on every database. */
for (const backend of await backends()) {
  describe(`grants and authorization codes (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let storage: Storage;
    let other: Storage;
    let userId: string;
    const now = 1_900_000_000;

    before(async () => {
      db = await backend.create();
      storage = await Storage.open(db);
      other = await Storage.open(db);
      userId = (await new UserRegistry(storage).create({ username: 'alice', password: 'correct horse battery' })).id;
      await storage.clients.create({
        clientId: 'web-app',
        name: 'Web app',
        type: 'public',
        tokenEndpointAuthMethod: 'none',
        secretHash: null,
        grantTypes: [],
        scopes: [],
        audienceResourceIds: [],
        createdAt: now,
      });
    });
    after(async () => {
      await other?.close();
      await storage?.close();
      await db?.drop();
    });

    const issue = async (overrides: Partial<AuthorizationCode> = {}) => {
      const grant: Grant = { id: randomBytes(12).toString('base64url'), clientId: 'web-app', userId, scope: 'openid', createdAt: now, revokedAt: null };
      const code: AuthorizationCode = {
        codeHash: randomBytes(32).toString('base64url'),
        grantId: grant.id,
        redirectUri: 'https://app.example.com/cb',
        codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        nonce: 'n-0S6_WzA2Mj',
        authTime: now,
        amr: ['pwd', 'otp', 'mfa'],
        scope: 'openid',
        createdAt: now,
        expiresAt: now + 60,
        // RFC 9449 §10: the code keeps the thumbprint of the key it is bound to.
        dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
        ...overrides,
      };
      await storage.grants.createWithCode(grant, code);
      return { grant, code };
    };

    test('a code is redeemed once; it carries everything the token endpoint checks', async () => {
      const { grant, code } = await issue();
      const first = await storage.grants.redeem(code.codeHash, now + 1);
      assert.equal(first.status, 'redeemed');
      if (first.status === 'redeemed') {
        assert.deepEqual(first.code, code);
        assert.equal(first.grant.clientId, 'web-app');
        assert.equal(first.grant.userId, userId);
      }
      const second = await storage.grants.redeem(code.codeHash, now + 2);
      assert.deepEqual(second, { status: 'replayed', grantId: grant.id }, 'C24: the replay is recognised');
    });

    test('simultaneous redemptions, through two connections: exactly one succeeds (C26)', async () => {
      const { code } = await issue();
      const attempts = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? other : storage).grants.redeem(code.codeHash, now + 1)),
      );
      assert.equal(attempts.filter((r) => r.status === 'redeemed').length, 1);
      assert.equal(attempts.filter((r) => r.status === 'replayed').length, 19);
    });

    test('an expired code is invalid and stays unconsumed (C29)', async () => {
      const { code } = await issue({ expiresAt: now + 60 });
      assert.deepEqual(await storage.grants.redeem(code.codeHash, now + 60), { status: 'invalid' });
      assert.equal((await storage.grants.peek(code.codeHash))?.consumed, false);
    });

    test('an unknown code is invalid; peek does not consume', async () => {
      assert.deepEqual(await storage.grants.redeem('no-such-code', now), { status: 'invalid' });
      const { code } = await issue();
      const peeked = await storage.grants.peek(code.codeHash);
      assert.equal(peeked?.clientId, 'web-app');
      assert.equal(peeked?.consumed, false);
      assert.equal((await storage.grants.redeem(code.codeHash, now + 1)).status, 'redeemed');
    });

    test('a revoked grant makes its codes worthless', async () => {
      const { grant, code } = await issue();
      await storage.grants.revokeGrant(grant.id, now + 1);
      assert.equal((await storage.grants.findGrant(grant.id))?.revokedAt, now + 1);
      assert.deepEqual(await storage.grants.redeem(code.codeHash, now + 2), { status: 'invalid' });
    });

    test('expired codes are purged in bounded batches, unexpired ones stay', async () => {
      const expired = await Promise.all([1, 2, 3].map(() => issue({ expiresAt: now - 10 })));
      const live = await issue({ expiresAt: now + 600 });
      assert.equal(await storage.grants.purgeExpiredCodes(now, 2), 2);
      assert.ok((await storage.grants.purgeExpiredCodes(now, 100)) >= 1);
      for (const { code } of expired) assert.equal(await storage.grants.peek(code.codeHash), undefined);
      assert.ok(await storage.grants.peek(live.code.codeHash));
    });

    test('deleting the client or the user deletes their grants and codes (foreign keys)', async () => {
      const { grant, code } = await issue();
      await storage.clients.delete('web-app');
      assert.equal(await storage.grants.findGrant(grant.id), undefined);
      assert.equal(await storage.grants.peek(code.codeHash), undefined);
    });

    test('codes are stored by hash only: the table has no column for the code itself (C30)', async () => {
      const tables = await storage.db.kysely.introspection.getTables();
      const columns = tables.find((t) => t.name === 'authorization_codes')!.columns.map((c) => c.name);
      assert.ok(columns.includes('code_hash'));
      assert.ok(!columns.includes('code'));
    });
  });
}
