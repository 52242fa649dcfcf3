import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RegistryError } from '../src/errors.ts';
import { Storage } from '../src/storage/storage.ts';
import { verifyPassword } from '../src/users/passwords.ts';
import { UserRegistry } from '../src/users/user-registry.ts';
import { backends, killLatchkeyProcesses, runLatchkey, sqlite, TEST_SECRET, type TestDatabase } from '@latchkey/testing';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

for (const backend of await backends()) {
  describe(`users (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let storage: Storage;
    let users: UserRegistry;

    before(async () => {
      db = await backend.create();
      storage = await Storage.open(db);
      users = new UserRegistry(storage);
    });
    after(async () => {
      await storage?.close();
      await db?.drop();
    });

    test('a user is created with a UUID sub and an argon2id hash, never the password', async () => {
      const alice = await users.create({ username: 'Alice', email: 'alice@example.com', name: 'Alice Liddell', password: 'correct horse battery' });
      assert.equal(alice.username, 'alice', 'usernames are stored lower-case');
      assert.match(alice.id, UUID);
      assert.equal((alice as Record<string, unknown>).passwordHash, undefined, 'the view has no hash');
      const row = await storage.db.kysely.selectFrom('users').selectAll().where('username', '=', 'alice').executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.ok(!row.password_hash.includes('correct horse'));
      assert.equal(await verifyPassword(row.password_hash, 'correct horse battery'), true);
      assert.equal(await verifyPassword(row.password_hash, 'correct horse battery!'), false);
      assert.equal(await verifyPassword('not a hash', 'x'), false);
    });

    test('usernames are unique without regard to case', async () => {
      await assert.rejects(users.create({ username: 'ALICE', password: 'another password' }), (err: RegistryError) => err.code === 'conflict');
    });

    test('bad usernames, emails and passwords are refused', async () => {
      const invalid = (err: RegistryError) => err instanceof RegistryError && err.code === 'invalid';
      await assert.rejects(users.create({ username: 'has space', password: 'long enough' }), invalid);
      await assert.rejects(users.create({ username: 'x'.repeat(65), password: 'long enough' }), invalid);
      await assert.rejects(users.create({ username: 'bob', email: 'not-an-email', password: 'long enough' }), invalid);
      await assert.rejects(users.create({ username: 'bob', password: 'short' }), invalid, 'NIST 800-63B: at least 8');
      await assert.rejects(users.create({ username: 'bob', password: 'x'.repeat(1025) }), invalid, 'bounded input');
      await assert.rejects(users.get('bob'), (err: RegistryError) => err.code === 'not_found', 'nothing half-written');
    });

    test('disable, enable and set-password', async () => {
      await users.disable('alice');
      assert.notEqual((await users.get('alice')).disabledAt, null);
      await users.enable('Alice');
      assert.equal((await users.get('alice')).disabledAt, null);
      await users.setPassword('alice', 'a whole new password');
      const row = await storage.db.kysely.selectFrom('users').select('password_hash').where('username', '=', 'alice').executeTakeFirstOrThrow();
      assert.equal(await verifyPassword(row.password_hash, 'a whole new password'), true);
      assert.equal(await verifyPassword(row.password_hash, 'correct horse battery'), false);
      await assert.rejects(users.setPassword('alice', 'short'), (err: RegistryError) => err.code === 'invalid');
      await assert.rejects(users.disable('nobody'), (err: RegistryError) => err.code === 'not_found');
      assert.deepEqual((await users.list()).map((u) => u.username), ['alice']);
    });
  });
}

describe('latchkey users (CLI)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await sqlite.create();
  });
  after(async () => {
    killLatchkeyProcesses();
    await db?.drop();
  });
  const env = () => ({ LATCHKEY_DATA_DIR: db.dataDir, LATCHKEY_SECRET: TEST_SECRET });

  test('the password comes from stdin, never from an argument, and is never printed', async () => {
    const created = await runLatchkey(
      ['users', 'create', '--username', 'alice', '--email', 'alice@example.com', '--name', 'Alice Liddell', '--json'],
      env(),
      { stdin: 'correct horse battery\n' },
    );
    assert.equal(created.code, 0, created.stderr);
    const user = JSON.parse(created.stdout);
    assert.equal(user.username, 'alice');
    assert.equal(user.name, 'Alice Liddell');
    assert.match(user.sub, UUID);
    assert.ok(!created.stdout.includes('correct horse') && !created.stderr.includes('correct horse'));

    const asArgument = await runLatchkey(['users', 'create', '--username', 'bob', '--password', 'on the command line'], env());
    assert.equal(asArgument.code, 2, 'there is no --password option');

    const listed = await runLatchkey(['users', 'list', '--json'], env());
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(!listed.stdout.includes('argon2'), 'no hash in the listing');
    assert.deepEqual(JSON.parse(listed.stdout).users.map((u: { username: string }) => u.username), ['alice']);

    const [disabled, changed, short] = await Promise.all([
      runLatchkey(['users', 'disable', 'alice', '--json'], env()),
      runLatchkey(['users', 'set-password', 'alice', '--json'], env(), { stdin: 'a whole new password\n' }),
      runLatchkey(['users', 'create', '--username', 'carol'], env(), { stdin: 'short\n' }),
    ]);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(short.code, 1, 'too short a password is refused');
    assert.match(short.stderr, /at least 8 characters/);

    const storage = await Storage.open(db);
    try {
      const alice = await storage.users.findByUsername('alice');
      assert.ok(alice?.disabledAt);
      assert.equal(await verifyPassword(alice.passwordHash, 'a whole new password'), true);
    } finally {
      await storage.close();
    }
  });
});
