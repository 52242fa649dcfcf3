import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { RefreshToken } from '../src/storage/refresh-token-store.ts';
import { Storage } from '../src/storage/storage.ts';
import { UserRegistry } from '../src/users/user-registry.ts';
import { backends, type TestDatabase } from '@latchkey/testing';

/**
 * The storage under refresh rotation, grant revocation and consent (docs/security.md F43-F45, C24, I63), on
 * every database, through two connections where concurrency matters.
 */
for (const backend of await backends()) {
  describe(`refresh families, grant revocation and consents (${backend.name})`, { skip: backend.skip }, () => {
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
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: [],
        audienceResourceIds: [],
        createdAt: now,
        redirectUris: ['https://app.example.com/cb'],
        oidcScopes: ['openid', 'offline_access'],
      });
    });
    after(async () => {
      await other?.close();
      await storage?.close();
      await db?.drop();
    });

    const id = () => randomBytes(16).toString('base64url');
    const newGrant = async (createdAt = now) => {
      const grantId = id();
      await storage.grants.createWithCode(
        { id: grantId, clientId: 'web-app', userId, scope: 'openid offline_access', createdAt, revokedAt: null },
        {
          codeHash: id(),
          grantId,
          redirectUri: 'https://app.example.com/cb',
          codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          nonce: null,
          authTime: createdAt,
          amr: ['pwd'],
          scope: 'openid offline_access',
          createdAt,
          expiresAt: createdAt + 60,
        },
      );
      return grantId;
    };
    const token = (grantId: string, overrides: Partial<RefreshToken> = {}): RefreshToken => ({
      tokenHash: id(),
      grantId,
      scope: 'openid offline_access',
      authTime: now,
      amr: ['pwd', 'otp', 'mfa'],
      createdAt: now,
      expiresAt: now + 3600,
      ...overrides,
    });

    // PostgreSQL: two connections race. SQLite: one connection (one server process owns the file; two
    // connections in one process would block each other's transactions synchronously).
    test('rotation: one atomic winner among 20 simultaneous rotations (F45)', async () => {
      const second = backend.name === 'postgres' ? other : storage;
      const grantId = await newGrant();
      const first = token(grantId);
      await storage.refreshTokens.insert(first);
      const successors = Array.from({ length: 20 }, () => token(grantId));
      const results = await Promise.all(
        successors.map((s, i) => (i % 2 ? second : storage).refreshTokens.rotate(first.tokenHash, s, { successorEnc: `sealed-${i}`, forgetAt: null, now: now + 1 })),
      );
      assert.equal(results.filter(Boolean).length, 1, 'exactly one rotation wins');
      const winner = successors[results.indexOf(true)]!;
      // Only the winner's successor was stored: one live token in the family, never two.
      const stored = await Promise.all(successors.map((s) => storage.refreshTokens.find(s.tokenHash)));
      assert.equal(stored.filter((s) => s !== undefined).length, 1);
      const old = await storage.refreshTokens.find(first.tokenHash);
      assert.equal(old?.consumedAt, now + 1);
      assert.equal(old?.successorHash, winner.tokenHash, 'the consumed token points at the one successor');
      assert.equal(old?.successorEnc, `sealed-${results.indexOf(true)}`);
      assert.equal(old?.clientId, 'web-app');
      assert.equal(old?.userId, userId);
    });

    test("the user's sign-in (auth_time, RFC 8176 amr) survives the round trip through opaque tokens and refresh tokens", async () => {
      const authentication = { time: now - 30, methods: ['pwd' as const, 'otp' as const, 'mfa' as const] };
      const hash = id();
      const base = { jti: id(), clientId: 'web-app', subject: userId, audience: ['https://api.example.com'], scope: 'orders:read', issuedAt: now, expiresAt: now + 600 };
      await storage.opaqueTokens.insert({ ...base, tokenHash: hash, authentication });
      assert.deepEqual((await storage.opaqueTokens.find(hash))?.authentication, authentication);
      const service = id();
      await storage.opaqueTokens.insert({ ...base, jti: id(), tokenHash: service });
      assert.equal((await storage.opaqueTokens.find(service))?.authentication, null, 'no user sign-in: none');
      const refresh = token(await newGrant());
      await storage.refreshTokens.insert(refresh);
      assert.deepEqual((await storage.refreshTokens.find(refresh.tokenHash))?.amr, ['pwd', 'otp', 'mfa']);
    });

    test('revoking a grant revokes its unexpired access tokens and deletes its opaque ones, in one go (C24, F44, I63)', async () => {
      const grantId = await newGrant();
      assert.equal(await storage.grants.recordAccessToken(grantId, { jti: 'jwt-live', clientId: 'web-app', expiresAt: now + 600 }), true);
      assert.equal(await storage.grants.recordAccessToken(grantId, { jti: 'jwt-old', clientId: 'web-app', expiresAt: now - 1 }), true);
      await storage.opaqueTokens.insert({
        tokenHash: id(),
        jti: 'opaque-live',
        clientId: 'web-app',
        subject: userId,
        audience: ['https://api.example.com'],
        scope: 'orders:read',
        issuedAt: now,
        expiresAt: now + 600,
      });
      assert.equal(await storage.grants.recordAccessToken(grantId, { jti: 'opaque-live', clientId: 'web-app', expiresAt: now + 600 }), true);
      const otherGrant = await newGrant();
      await storage.grants.recordAccessToken(otherGrant, { jti: 'jwt-other-grant', clientId: 'web-app', expiresAt: now + 600 });

      await storage.grants.revokeGrant(grantId, now);
      await storage.grants.revokeGrant(grantId, now + 5); // twice is harmless
      assert.equal((await storage.grants.findGrant(grantId))?.revokedAt, now);
      assert.equal(await storage.revocations.isAccessTokenRevoked('jwt-live'), true);
      assert.equal(await storage.revocations.isAccessTokenRevoked('jwt-old'), false, 'already expired: nothing to remember');
      assert.equal(await storage.revocations.isAccessTokenRevoked('jwt-other-grant'), false, 'another grant is untouched');
      const opaque = await storage.db.kysely.selectFrom('opaque_access_tokens').select('jti').where('jti', '=', 'opaque-live').execute();
      assert.equal(opaque.length, 0, 'the opaque token of the grant is gone');
      // A token recorded after the revocation is reported as not live, so it is never handed out.
      assert.equal(await storage.grants.recordAccessToken(grantId, { jti: 'jwt-late', clientId: 'web-app', expiresAt: now + 600 }), false);
    });

    test('the family and its grant are found together; a revoked grant shows on the token', async () => {
      const grantId = await newGrant();
      const t = token(grantId);
      await storage.refreshTokens.insert(t);
      assert.equal((await storage.refreshTokens.find(t.tokenHash))?.grantRevokedAt, null);
      await storage.grants.revokeGrant(grantId, now + 3);
      assert.equal((await storage.refreshTokens.find(t.tokenHash))?.grantRevokedAt, now + 3);
      assert.equal(await storage.refreshTokens.find('unknown'), undefined);
    });

    test('purges: ended families, expired access-token records, and spent grants, in bounded batches', async () => {
      const spent = await newGrant(now - 10_000);
      await storage.grants.purgeExpiredCodes(now, 100);
      const ended = [1, 2, 3].map(() => token(spent, { expiresAt: now - 1 }));
      for (const t of ended) await storage.refreshTokens.insert(t);
      await storage.grants.recordAccessToken(spent, { jti: id(), clientId: 'web-app', expiresAt: now - 1 });
      const liveGrant = await newGrant(now - 10_000);
      const live = token(liveGrant, { expiresAt: now + 10 });
      await storage.refreshTokens.insert(live);

      assert.equal(await storage.refreshTokens.purgeExpired(now, 2), 2);
      assert.equal(await storage.refreshTokens.purgeExpired(now, 100), 1);
      assert.ok((await storage.grants.purgeExpiredAccessTokens(now, 100)) >= 1);
      // Nothing left under `spent`: it goes; `liveGrant` still has a live refresh token: it stays.
      assert.ok((await storage.grants.purgeSpent(now, 700, 100)) >= 1);
      assert.equal(await storage.grants.findGrant(spent), undefined);
      assert.ok(await storage.grants.findGrant(liveGrant));
      assert.ok(await storage.refreshTokens.find(live.tokenHash));
    });

    test('consents grow by union, are per user and client, and can be forgotten', async () => {
      assert.deepEqual(await storage.consents.find(userId, 'web-app'), []);
      await storage.consents.remember(userId, 'web-app', ['openid', 'orders:read'], now);
      await other.consents.remember(userId, 'web-app', ['openid', 'profile'], now + 1);
      assert.deepEqual(await storage.consents.find(userId, 'web-app'), ['openid', 'orders:read', 'profile']);
      await storage.consents.forget(userId, 'web-app');
      assert.deepEqual(await storage.consents.find(userId, 'web-app'), []);
    });

    test('refresh tokens are stored by hash only: no column holds a token (C30)', async () => {
      const tables = await storage.db.kysely.introspection.getTables();
      const columns = tables.find((t) => t.name === 'refresh_tokens')!.columns.map((c) => c.name);
      assert.ok(columns.includes('token_hash'));
      assert.ok(!columns.includes('token') && !columns.includes('refresh_token'));
    });
  });
}
