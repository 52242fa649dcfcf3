import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { COMMANDS, GLOBAL_OPTIONS } from '../src/cli/commands.ts';
import { synopsis } from '../src/cli/help.ts';
import { HANDLERS, main, USAGE } from '../src/cli/main.ts';
import { parseCommandLine } from '../src/cli/parse.ts';
import { runLatchkey } from '@latchkey/testing';

/**
 * How the CLI reads its command line and what it says about it, without a database: each command takes
 * only its own options and the global ones, a mistake is one line (exit 2), help is per command. The
 * commands that do reach the database are in cli.test.ts.
 */

/** Runs main() in this process; only for command lines that never get to a command's handler. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A usage mistake: exit 2, nothing on stdout, exactly one line on stderr; returns that line. */
async function mistake(...argv: string[]): Promise<string> {
  const r = await run(...argv);
  assert.equal(r.code, 2, `${argv.join(' ')}: exit ${r.code}\n${r.out}\n${r.err}`);
  assert.equal(r.out, '', argv.join(' '));
  assert.equal(r.err.split('\n').length, 1, `${argv.join(' ')}: one line only, got:\n${r.err}`);
  assert.match(r.err, /^error: /);
  // Node's own parser words never reach the user.
  assert.doesNotMatch(r.err, /To specify a positional argument|Unknown option '|ERR_PARSE_ARGS|argument is ambiguous/);
  return r.err;
}

const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Words of a shell command line from the help's examples (quotes, and what follows a pipe into latchkey). */
function shellWords(line: string): string[] {
  const command = line.includes('| latchkey ') ? line.slice(line.lastIndexOf('| latchkey ') + 2) : line;
  const words = [...command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  assert.equal(words.shift(), 'latchkey', line);
  return words;
}

describe('latchkey CLI usage', () => {
  test('a mistyped option is refused in one line, with the nearest name (clients create --scope)', async () => {
    const line = await mistake(
      'clients', 'create', '--name', 'X', '--type', 'public', '--grant-types', 'authorization_code', '--scope', 'orders:read',
    );
    assert.equal(line, 'error: clients create does not take --scope (did you mean --scopes?)');
    assert.equal(
      await mistake('clients', 'create', '--name', 'X', '--type', 'public', '--redirect_uris', 'https://x.example/cb'),
      'error: clients create does not take --redirect_uris (did you mean --redirect-uris?)',
    );
    // Another command's option, nothing near: the command's help is named instead.
    assert.equal(await mistake('clients', 'list', '--frobnicate'), 'error: clients list does not take --frobnicate (see latchkey clients list --help)');
    assert.equal(await mistake('keys', 'rotate', '--scopes', 'a'), 'error: keys rotate does not take --scopes (see latchkey keys rotate --help)');
    assert.match(await mistake('users', 'create', '--username', 'bob', '--password', 'x'), /users create does not take --password/);
    assert.match(await mistake('login', '--issuer', 'https://id.example', '--client-id', 'c', '--scopes', 'openid'), /did you mean --scope\?/);
    assert.equal(await mistake('-v'), 'error: unknown option -v (did you mean --version?)');
  });

  test('a missing required option, argument or value, and one too many arguments', async () => {
    assert.equal(
      await mistake('clients', 'create', '--type', 'public', '--grant-types', 'authorization_code', '--scopes', 'openid'),
      'error: --name is required (see latchkey clients create --help)',
    );
    assert.match(await mistake('resources', 'create', '--identifier', 'https://api.example.com'), /^error: --scopes is required/);
    assert.match(await mistake('clients', 'allow-exchange', 'svc', '--scopes', 'a'), /^error: --audience is required/);
    assert.match(await mistake('providers', 'add', 'corp', '--issuer', 'https://sso.example', '--client-id', 'c'), /^error: --name is required/);
    assert.match(await mistake('users', 'create', '--username', ''), /^error: --username is required/);
    assert.equal(await mistake('clients', 'show'), 'error: the client id is required (see latchkey clients show --help)');
    assert.equal(await mistake('keys', 'revoke'), 'error: the key id (kid) is required (see latchkey keys revoke --help)');
    assert.equal(await mistake('clients', 'show', 'a', 'b'), 'error: unexpected "b": the usage is latchkey clients show ID');
    assert.match(await mistake('clients', 'list', 'everything'), /unexpected "everything"/);
    assert.equal(await mistake('keys', 'rotate', '--alg'), 'error: --alg needs a value (see latchkey keys rotate --help)');
    assert.equal(await mistake('clients', 'create', '--name', '--type', 'public'), 'error: --name needs a value (see latchkey clients create --help)');
    assert.match(await mistake('registration', 'tokens', 'create', '--expires-in', '-5'), /--expires-in needs a value.*--expires-in=-5/);
    assert.equal(await mistake('keys', 'rotate', '--now=yes'), 'error: --now takes no value (see latchkey keys rotate --help)');
  });

  test('an unknown command is named in one line, with the nearest one or latchkey --help', async () => {
    assert.equal(await mistake('frobnicate'), 'error: unknown command "frobnicate" (see latchkey --help)');
    assert.equal(await mistake('client', 'list'), 'error: unknown command "client" (did you mean clients?)');
    assert.equal(await mistake('clients', 'frobnicate'), 'error: unknown clients command "frobnicate" (see latchkey clients --help)');
    assert.equal(await mistake('registration', 'tokens', 'revok', 'x'), 'error: unknown registration tokens command "revok" (did you mean revoke?)');
    assert.match(await mistake('clients'), /^error: clients needs a command: create, list, show, update, delete/);
    assert.equal(await mistake('help', 'frobnicate'), 'error: unknown command "frobnicate" (see latchkey --help)');
    assert.equal(await mistake('--frobnicate'), 'error: unknown option --frobnicate (see latchkey --help)');
  });

  test('latchkey alone prints the short usage (exit 2); --help the whole one (exit 0)', async () => {
    const bare = await run();
    assert.equal(bare.code, 2);
    assert.equal(bare.out, '');
    assert.match(bare.err, /^Usage: latchkey <command> \[options\]/);
    assert.match(bare.err, /Commands:\n  serve, migrate, doctor, resources, clients, registration, keys, admin, users, providers, apply,\n  export, login, whoami, logout\n/);
    assert.match(bare.err, /latchkey --help/);

    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await run(...argv);
      assert.equal(r.code, 0, argv.join(' '));
      assert.equal(r.out, USAGE);
      assert.equal(r.err, '');
    }
    // The overall usage shows every command's synopsis, the same as its own help does.
    for (const command of COMMANDS) assert.ok(USAGE.includes(`  ${synopsis(command)}`), synopsis(command));
    for (const option of GLOBAL_OPTIONS) assert.ok(USAGE.includes(`--${option.name}`), option.name);
  });

  test('a command\'s help: its usage, its options and examples only (clients create, keys rotate)', async () => {
    for (const argv of [['clients', 'create', '--help'], ['help', 'clients', 'create'], ['clients', 'create', '--name', 'x', '--scope', 'y', '-h']]) {
      const r = await run(...argv);
      assert.equal(r.code, 0, argv.join(' '));
      assert.equal(r.err, '');
      assert.ok(r.out.startsWith('Usage: latchkey clients create --name NAME --type confidential|public'), r.out);
      for (const option of COMMANDS.find((c) => c.path.join(' ') === 'clients create')!.options!) {
        assert.match(r.out, new RegExp(`^  --${option.name}\\b`, 'm'), option.name);
      }
      assert.match(r.out, /^Examples:\n  latchkey clients create --name svc-a/m);
      assert.doesNotMatch(r.out, /resources create|clients update|users invite/);
    }
    const rotate = await run('keys', 'rotate', '--help');
    assert.equal(rotate.code, 0);
    assert.ok(rotate.out.startsWith('Usage: latchkey keys rotate [--alg ES256|RS256|all] [--now]\n'), rotate.out);
    assert.match(rotate.out, /^  --alg ES256\|RS256\|all +rotate only one algorithm/m);
    assert.match(rotate.out, /^  latchkey keys rotate --alg ES256 --now$/m);
    assert.doesNotMatch(rotate.out, /--refresh-grace-seconds|keys revoke/);
  });

  test('a group\'s help: latchkey clients --help is latchkey help clients', async () => {
    const flag = await run('clients', '--help');
    const word = await run('help', 'clients');
    assert.equal(flag.code, 0);
    assert.equal(word.code, 0);
    assert.equal(flag.out, word.out);
    assert.ok(flag.out.startsWith('Usage: latchkey clients <command> [options]\n'));
    for (const command of COMMANDS) {
      const listed = flag.out.includes(`  ${synopsis(command)}`);
      assert.equal(listed, command.path[0] === 'clients', command.path.join(' '));
    }
    assert.match(flag.out, /^Examples:\n  latchkey clients /m);
    const tokens = await run('help', 'registration', 'tokens');
    assert.equal(tokens.code, 0);
    assert.match(tokens.out, /registration tokens revoke ID/);
  });

  test('--version prints the version in packages/server/package.json', async () => {
    const r = await run('--version');
    assert.deepEqual(r, { code: 0, out: packageVersion, err: '' });
    assert.deepEqual(JSON.parse((await run('--version', '--json')).out), { version: packageVersion });
    // Built: the same from dist/.
    const built = await runLatchkey(['--version'], {});
    assert.equal(built.code, 0, built.stderr);
    assert.equal(built.stdout, `${packageVersion}\n`);
  });

  test('ids that begin with a dash are arguments, or option values, not options', () => {
    const kid = `-${'U'.repeat(42)}`;
    const revoke = parseCommandLine(['keys', 'revoke', kid]);
    assert.equal(revoke.kind, 'run');
    assert.deepEqual(revoke.kind === 'run' && revoke.positionals, ['keys', 'revoke', kid]);
    for (const id of ['-2xQ_a9bZk1Lm', '--Zq8_w1Ab', '-abcdefgh']) {
      const r = parseCommandLine(['registration', 'tokens', 'revoke', id, '--json']);
      assert.ok(r.kind === 'run', id);
      assert.deepEqual(r.positionals, ['registration', 'tokens', 'revoke', id]);
      assert.equal(r.values.json, true);
    }
    const created = parseCommandLine(['clients', 'create', '--name', 'x', '--type', 'public', '--client-id', '-abcdefgh']);
    assert.ok(created.kind === 'run');
    assert.equal(created.values['client-id'], '-abcdefgh');
    // After `--` everything is an argument.
    const after = parseCommandLine(['users', 'show', '--', '-h']);
    assert.ok(after.kind === 'run');
    assert.deepEqual(after.positionals, ['users', 'show', '-h']);
  });

  test('the values handlers get: repeated options, --opt=value, global options before the command', () => {
    const r = parseCommandLine([
      '--config', 'latchkey.json', 'resources', 'create', '--identifier=https://api.example.com', '--scopes', 'a,b',
      '--describe', 'a=Read A', '--describe', 'b=Read B', '--default-scopes', '',
    ]);
    assert.ok(r.kind === 'run');
    assert.deepEqual(r.values, {
      config: 'latchkey.json',
      identifier: 'https://api.example.com',
      scopes: 'a,b',
      describe: ['a=Read A', 'b=Read B'],
      'default-scopes': '',
    });
    assert.deepEqual(r.positionals, ['resources', 'create']);
  });

  test('the table: each command has a handler, each example parses, the README shows latchkey --help', () => {
    for (const command of COMMANDS) {
      assert.ok(HANDLERS[command.path[0]!], command.path.join(' '));
      assert.ok(command.examples?.length, `${command.path.join(' ')} has an example`);
      for (const example of command.examples ?? []) {
        const r = parseCommandLine(shellWords(example));
        assert.equal(r.kind, 'run', example);
        assert.deepEqual(r.kind === 'run' && r.command.path, command.path, example);
      }
    }
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('```text\nUsage: latchkey <command> [options]\n');
    assert.ok(start > 0, 'README has the usage');
    const block = readme.slice(start + '```text\n'.length, readme.indexOf('\n```', start + 8));
    assert.equal(block, USAGE, 'README.md shows what latchkey --help prints');
  });
});
