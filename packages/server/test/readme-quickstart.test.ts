import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, killLatchkeyProcesses, LATCHKEY_BIN, REPO_ROOT, type ServeProcess, startServeProcess } from '@latchkey/testing';

// README's quick start, run as a new user runs it: a real `latchkey serve` process, then every ```sh
// block of the section in one bash process (so CLIENT_ID, ACCESS_TOKEN ... carry over from block to
// block), each block's output compared with the output block README shows after it. The comparison is
// by shape: what differs from run to run (ids, secrets, tokens, kids, times, paths) is masked; keys,
// value types, line counts, words and stable values (token_type, scope, expires_in, error codes ...)
// must be the same. The CLI and the server run the compiled dist/, as the other process tests do.

const SECTION = '## Quick start (five minutes)';
const README_PORT = 9000;
/** The second server README's issuer-with-a-path example talks to. */
const README_TENANT_PORT = 9001;
const TENANT_PATH = '/tenant-a';

// ---------------------------------------------------------------------------------------------------
// Reading README

interface Fence {
  lang: string;
  body: string;
  /** README's line number of the opening fence. */
  line: number;
  /** The prose between the previous fence and this one. */
  before: string;
}

/** The section from `heading` to the next `## ` heading. */
function section(markdown: string, heading: string): { text: string; firstLine: number } {
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `README has the heading "${heading}"`);
  let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  if (end < 0) end = lines.length;
  return { text: lines.slice(start, end).join('\n'), firstLine: start + 1 };
}

function fences(text: string, firstLine: number): Fence[] {
  const found: Fence[] = [];
  const lines = text.split('\n');
  let prose: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) {
      prose.push(lines[i]!);
      continue;
    }
    const body: string[] = [];
    const line = firstLine + i;
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    assert.ok(i < lines.length, `the fence at README line ${line} is closed`);
    found.push({ lang: open[1]!, body: body.join('\n'), line, before: prose.join('\n') });
    prose = [];
  }
  return found;
}

/** A ```sh block and the output blocks (```text, ```json) README shows after it, before the next. */
interface Step {
  command: string;
  line: number;
  shown: Fence[];
}

function quickStart(markdown: string): { steps: Step[]; verifyScript: string } {
  const { text, firstLine } = section(markdown, SECTION);
  const steps: Step[] = [];
  const scripts: string[] = [];
  for (const fence of fences(text, firstLine)) {
    if (fence.lang === 'sh') steps.push({ command: fence.body, line: fence.line, shown: [] });
    else if (fence.lang === 'text' || fence.lang === 'json') steps.at(-1)?.shown.push(fence);
    else if (fence.lang === 'js') scripts.push(fence.body);
  }
  assert.equal(scripts.length, 1, 'the quick start has one ```js block: scratch/verify-token.mjs');
  return { steps, verifyScript: scripts[0]! };
}

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const { steps: STEPS, verifyScript: VERIFY_SCRIPT } = quickStart(README);

// ---------------------------------------------------------------------------------------------------
// Comparing by shape

/**
 * Replaces what differs from one run to the next with a placeholder naming its kind: JWTs, ISO and HTTP
 * dates, absolute paths, 32-digit hex ids, base64url secrets, tokens, kids and jtis (16+ characters
 * with a lower-case letter and an upper-case letter or digit: `client_credentials` stays), and numbers
 * of nine digits or more (Unix times). Everything else (words, scopes, URLs, small numbers) is kept.
 */
function maskVariableParts(text: string): string {
  return text
    .replace(/\beyJ[\w-]*\.[\w-]+\.[\w-]+/g, '<jwt>')
    .replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z\b/g, '<iso-date>')
    .replace(/\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\b/g, '<http-date>')
    .replace(/(^|[\s"'=(])\/[^\s"')]*/g, '$1<path>')
    .replace(/(?<![\w-])[0-9a-f]{32}(?![\w-])/g, '<hex>')
    .replace(/(?<![\w-])[\w-]{16,}(?![\w-])/g, (w) => (/[a-z]/.test(w) && /[A-Z0-9]/.test(w) ? '<base64url>' : w))
    .replace(/\b\d{9,}\b/g, '<number>');
}

/** JSON members whose numbers change from run to run (times); every other number must be equal. */
const VARIABLE_NUMBERS = new Set(['time', 'iat', 'exp', 'nbf', 'auth_time']);

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * The differences between an actual JSON value and the one README shows: the same members (recursively),
 * the same types, strings equal once masked (a string README abbreviates with `...` matches any string),
 * numbers equal but for times, arrays of the same length (arrays of objects in any order: JWKS keys are
 * listed by kid).
 */
function jsonDifferences(actual: unknown, shown: unknown, path = '$'): string[] {
  if (kind(actual) !== kind(shown)) return [`${path}: README shows ${kind(shown)} ${JSON.stringify(shown)}, the run printed ${kind(actual)} ${JSON.stringify(actual)}`];
  if (typeof shown === 'string') {
    if (shown.includes('...') || maskVariableParts(actual as string) === maskVariableParts(shown)) return [];
    return [`${path}: README shows ${JSON.stringify(shown)}, the run printed ${JSON.stringify(actual)}`];
  }
  if (typeof shown === 'number') {
    const name = path.slice(path.lastIndexOf('.') + 1);
    if (VARIABLE_NUMBERS.has(name) || actual === shown) return [];
    return [`${path}: README shows ${shown}, the run printed ${actual}`];
  }
  if (Array.isArray(shown)) {
    const got = actual as unknown[];
    if (got.length !== shown.length) return [`${path}: README shows ${shown.length} elements, the run printed ${got.length}: ${JSON.stringify(got)}`];
    if (shown.every((e) => kind(e) === 'object')) {
      const unused = new Set(got.keys());
      const diffs: string[] = [];
      shown.forEach((e, i) => {
        const match = [...unused].find((j) => jsonDifferences(got[j], e, `${path}[${j}]`).length === 0);
        if (match === undefined) diffs.push(...jsonDifferences(got[i], e, `${path}[${i}]`));
        else unused.delete(match);
      });
      return diffs;
    }
    return shown.flatMap((e, i) => jsonDifferences(got[i], e, `${path}[${i}]`));
  }
  if (kind(shown) === 'object') {
    const got = actual as Record<string, unknown>;
    const want = shown as Record<string, unknown>;
    const diffs: string[] = [];
    for (const key of Object.keys(want)) {
      if (!(key in got)) diffs.push(`${path}.${key}: README shows it, the run did not print it`);
      else diffs.push(...jsonDifferences(got[key], want[key], `${path}.${key}`));
    }
    for (const key of Object.keys(got)) {
      if (!(key in want)) diffs.push(`${path}.${key}: the run printed it (${JSON.stringify(got[key])}), README does not show it`);
    }
    return diffs;
  }
  return actual === shown ? [] : [`${path}: README shows ${JSON.stringify(shown)}, the run printed ${JSON.stringify(actual)}`];
}

/** Splits output holding several JSON values (curl prints no newline after a body) into them. */
function parseJsonSequence(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i;
    } else if (c === '}' || c === ']') {
      if (--depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
    } else if (depth === 0 && !/\s/.test(c)) {
      throw new Error(`not JSON at offset ${i}: ${JSON.stringify(text.slice(i, i + 60))}`);
    }
  }
  if (depth !== 0) throw new Error(`unterminated JSON: ${JSON.stringify(text.slice(start, start + 60))}`);
  return values;
}

function lines(text: string): string[] {
  return text.replace(/\r/g, '').trimEnd().split('\n').map((l) => l.trimEnd());
}

function tryJson(line: string): unknown {
  if (!/^[[{]/.test(line)) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * The differences between text output and README's ```text block: the same number of lines, and each
 * line the same words once masked (a line of JSON, as a log line or a decoded JWT part, is compared as
 * JSON).
 */
function textDifferences(actual: string, shown: string): string[] {
  const got = lines(actual);
  const want = lines(shown);
  if (got.length !== want.length) return [`README shows ${want.length} lines, the run printed ${got.length}:\n${got.join('\n')}`];
  return want.flatMap((w, i) => {
    const g = got[i]!;
    const [wj, gj] = [tryJson(w), tryJson(g)];
    if (wj !== undefined && gj !== undefined) return jsonDifferences(gj, wj, `line ${i + 1}`);
    const [ww, gw] = [maskVariableParts(w).split(/\s+/), maskVariableParts(g).split(/\s+/)];
    return ww.join(' ') === gw.join(' ') ? [] : [`line ${i + 1}: README shows ${JSON.stringify(w)}, the run printed ${JSON.stringify(g)}`];
  });
}

/** The differences between output and README's output blocks for it (several JSON blocks: one per value). */
function outputDifferences(actual: string, shown: Fence[]): string[] {
  if (shown.every((f) => f.lang === 'json')) {
    let values: unknown[];
    try {
      values = parseJsonSequence(actual);
    } catch (err) {
      return [`README shows JSON, the run printed something else (${(err as Error).message}):\n${actual}`];
    }
    const expected = shownJson(shown);
    if (values.length !== expected.length) return [`README shows ${expected.length} JSON values, the run printed ${values.length}:\n${actual}`];
    return expected.flatMap((e, i) => jsonDifferences(values[i], e, expected.length > 1 ? `$${i + 1}` : '$'));
  }
  assert.equal(shown.length, 1, `one text block (README line ${shown[0]?.line})`);
  return textDifferences(actual, shown[0]!.body);
}

/**
 * README's JSON blocks as values. A block README introduces as "the same members and these" shows only
 * the members the document has besides the previous block's: the value it stands for is both merged.
 */
function shownJson(shown: Fence[]): unknown[] {
  const values: unknown[] = [];
  for (const fence of shown) {
    const value = JSON.parse(fence.body) as unknown;
    values.push(/same members and these/.test(fence.before) ? { ...(values.at(-1) as object), ...(value as object) } : value);
  }
  return values;
}

// ---------------------------------------------------------------------------------------------------
// Running the quick start

/** Blocks README shows something else for than their own stdout. */
const SHOWS_VARIABLE: { command: RegExp; variable: string; why: string }[] = [
  // "add --json and pick the values out of the JSON object ... The JSON object looks like this:"
  { command: /^CREATED=\$\(/m, variable: 'CREATED', why: 'README shows the JSON object the block keeps in $CREATED' },
];

interface Run {
  /** stdout and stderr of each section (`block-N` for STEPS[N], `shows-N` for the variable it shows). */
  stdout: Map<string, string>;
  stderr: Map<string, string>;
  status: Map<string, number>;
  /** The server's output up to "latchkey is ready" (what step 1's block shows). */
  serverStartup: string;
  tenantStartup: string;
}

const MARK = '@@readme-quickstart@@';

function asRun(command: string, ports: { port: number; tenantPort: number }): string {
  return command
    .replaceAll(`localhost:${README_PORT}`, `localhost:${ports.port}`)
    .replaceAll(`localhost:${README_TENANT_PORT}`, `localhost:${ports.tenantPort}`)
    .replace(/\bnpx latchkey\b/g, `node '${join(REPO_ROOT, LATCHKEY_BIN)}'`);
}

/** The run's output as README would show it: the test's ports replaced by README's. */
function asReadme(output: string, ports: { port: number; tenantPort: number }): string {
  return output
    .replace(new RegExp(`(localhost|127\\.0\\.0\\.1):${ports.port}(?!\\d)`, 'g'), `$1:${README_PORT}`)
    .replace(new RegExp(`(localhost|127\\.0\\.0\\.1):${ports.tenantPort}(?!\\d)`, 'g'), `$1:${README_TENANT_PORT}`);
}

function splitSections(output: string): { text: Map<string, string>; status: Map<string, number> } {
  const text = new Map<string, string>();
  const status = new Map<string, number>();
  const re = new RegExp(`\\n${MARK} (\\S+) (\\d+)\\n`, 'g');
  let from = 0;
  for (let m; (m = re.exec(output)); from = re.lastIndex) {
    text.set(m[1]!, output.slice(from, m.index));
    status.set(m[1]!, Number(m[2]));
  }
  return { text, status };
}

function startupLines(output: string): string {
  const all = output.split('\n');
  const ready = all.findIndex((l) => l.includes('"latchkey is ready"'));
  return all.slice(0, ready + 1).join('\n');
}

async function runQuickStart(dirs: { data: string; tenantData: string; cwd: string }, servers: ServeProcess[]): Promise<Run> {
  const [port, tenantPort] = [await freePort(), await freePort()];
  const ports = { port, tenantPort };
  // Step 1's `npm ci && npm start`, as a process of our own: the defaults but for the port and data.
  const [server, tenant] = await Promise.all([
    startServeProcess({ PORT: String(port), LATCHKEY_ISSUER: `http://localhost:${port}`, LATCHKEY_DATA_DIR: dirs.data }),
    startServeProcess({ PORT: String(tenantPort), LATCHKEY_ISSUER: `http://localhost:${tenantPort}${TENANT_PATH}`, LATCHKEY_DATA_DIR: dirs.tenantData }),
  ]);
  servers.push(server, tenant);

  mkdirSync(join(dirs.cwd, 'scratch'));
  writeFileSync(join(dirs.cwd, 'scratch', 'verify-token.mjs'), asRun(VERIFY_SCRIPT, ports));

  const script = ['set -o pipefail'];
  STEPS.slice(1).forEach((step, i) => {
    const n = i + 1;
    script.push(asRun(step.command, ports));
    script.push(`__status=$?; printf '\\n${MARK} block-${n} %d\\n' "$__status"; printf '\\n${MARK} block-${n} 0\\n' >&2`);
    const shows = SHOWS_VARIABLE.find((s) => s.command.test(step.command));
    if (shows) {
      script.push(`printf '%s\\n' "$${shows.variable}"; printf '\\n${MARK} shows-${n} 0\\n'; printf '\\n${MARK} shows-${n} 0\\n' >&2`);
    }
  });

  const child = spawn('bash', ['--noprofile', '--norc', '-s'], {
    cwd: dirs.cwd,
    // Nothing from the test runner's environment: the node running the tests first on PATH, a HOME
    // without a .curlrc, and the setting that points the CLI at the server's data directory.
    env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: dirs.cwd, LATCHKEY_DATA_DIR: dirs.data },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(script.join('\n') + '\n');
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000); // ~10 s on an idle machine
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, `bash exited ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);

  const out = splitSections(asReadme(stdout, ports));
  const err = splitSections(stderr);
  return {
    stdout: out.text,
    stderr: err.text,
    status: out.status,
    serverStartup: asReadme(startupLines(server.output()), ports),
    tenantStartup: startupLines(tenant.output()),
  };
}

// ---------------------------------------------------------------------------------------------------

describe('README quick start: the commands print what README shows', () => {
  const servers: ServeProcess[] = [];
  // The commands run in a directory in the repository's scratch/ (ignored by git), where README's
  // scratch/verify-token.mjs finds `jose` as it does in the repository root.
  mkdirSync(join(REPO_ROOT, 'scratch'), { recursive: true });
  const dirs = {
    data: mkdtempSync(join(tmpdir(), 'latchkey-quickstart-')),
    tenantData: mkdtempSync(join(tmpdir(), 'latchkey-quickstart-tenant-')),
    cwd: mkdtempSync(join(REPO_ROOT, 'scratch', 'readme-quickstart-')),
  };
  let run: Run;

  before(async () => {
    run = await runQuickStart(dirs, servers);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    killLatchkeyProcesses();
    for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
  });

  test('README\'s quick start is what this test runs', () => {
    assert.match(STEPS[0]!.command, /^npm ci && npm start$/, 'step 1 starts the server (the test starts it itself)');
    assert.ok(STEPS.length >= 10, `the quick start has its blocks (found ${STEPS.length})`);
    assert.ok(STEPS.filter((s) => s.shown.length > 0).length >= 8, 'most blocks show their output');
  });

  test(`step 1 (README line ${STEPS[0]!.line}): the server's first lines are the ones README shows`, () => {
    assert.ok(run.serverStartup.includes('latchkey is ready'), run.serverStartup);
    const diffs = outputDifferences(run.serverStartup, STEPS[0]!.shown);
    assert.deepEqual(diffs, [], `README line ${STEPS[0]!.shown[0]!.line}:\n${diffs.join('\n')}`);
  });

  STEPS.slice(1).forEach((step, i) => {
    const n = i + 1;
    const id = `block-${n}`;
    const shows = SHOWS_VARIABLE.find((s) => s.command.test(step.command));
    const title = step.command.split('\n')[0]!.slice(0, 70);
    test(`README line ${step.line}: ${title}`, () => {
      const stdout = run.stdout.get(id);
      const describeRun = () => `--- the block\n${step.command}\n--- stdout\n${stdout}\n--- stderr\n${run.stderr.get(id)}`;
      assert.ok(stdout !== undefined, `the block ran\n${describeRun()}`);
      assert.equal(run.status.get(id), 0, `the block exits 0\n${describeRun()}`);
      if (shows) {
        // The block's own stdout is the client_id it echoes, README's block the object it took it from.
        const shown = run.stdout.get(`shows-${n}`)!;
        assert.equal(stdout.trim(), (JSON.parse(shown) as { client_id: string }).client_id, describeRun());
        const diffs = outputDifferences(shown, step.shown);
        assert.deepEqual(diffs, [], `${shows.why} (README line ${step.shown[0]?.line}):\n${diffs.join('\n')}\n${describeRun()}`);
      } else if (step.shown.length > 0) {
        const diffs = outputDifferences(stdout, step.shown);
        assert.deepEqual(diffs, [], `README line ${step.shown[0]!.line}:\n${diffs.join('\n')}\n${describeRun()}`);
      } else {
        // README shows nothing: a block that prints a token endpoint error would still be a broken step.
        assert.doesNotMatch(stdout, /"error"/, describeRun());
      }
    });
  });

  test('the issuer-with-a-path example ran against a server with that issuer', () => {
    assert.match(run.tenantStartup, new RegExp(`"issuer":"http://localhost:\\d+${TENANT_PATH}"`));
  });

  // The comparison must be able to fail: README blocks changed the ways they drift are caught.
  describe('self-check: a README block that drifted is detected', () => {
    const stepWith = (re: RegExp) => {
      const i = STEPS.findIndex((s) => re.test(s.command) && s.shown.length > 0);
      assert.ok(i > 0, `a block matching ${re}`);
      return { step: STEPS[i]!, stdout: run.stdout.get(`block-${i}`)! };
    };
    const withBody = (f: Fence, body: string): Fence[] => [{ ...f, body }];

    test('the real output matches, and an extra, a missing or a changed JSON member does not', () => {
      const { step, stdout } = stepWith(/-d scope=orders:read/);
      assert.deepEqual(outputDifferences(stdout, step.shown), []);
      const shown = JSON.parse(step.shown[0]!.body) as Record<string, unknown>;
      const extra = outputDifferences(stdout, withBody(step.shown[0]!, JSON.stringify({ ...shown, refresh_token: 'x' })));
      assert.match(extra.join('\n'), /\$\.refresh_token: README shows it, the run did not print it/);
      const missing = { ...shown };
      delete missing.scope;
      assert.match(outputDifferences(stdout, withBody(step.shown[0]!, JSON.stringify(missing))).join('\n'), /\$\.scope: the run printed it/);
      assert.match(outputDifferences(stdout, withBody(step.shown[0]!, JSON.stringify({ ...shown, expires_in: 3600 }))).join('\n'), /expires_in/);
      assert.match(outputDifferences(stdout, withBody(step.shown[0]!, JSON.stringify({ ...shown, token_type: 'DPoP' }))).join('\n'), /token_type/);
      assert.match(outputDifferences(stdout, withBody(step.shown[0]!, JSON.stringify({ ...shown, expires_in: '600' }))).join('\n'), /README shows string/);
    });

    test('a nested member README shows but the command does not print is detected', () => {
      const { step } = stepWith(/^CREATED=/m);
      const shown = run.stdout.get(`shows-${STEPS.indexOf(step)}`)!;
      const body = JSON.parse(step.shown[0]!.body) as { client: Record<string, unknown> };
      assert.deepEqual(outputDifferences(shown, step.shown), []);
      body.client.secret_expires_at = 0;
      assert.match(outputDifferences(shown, withBody(step.shown[0]!, JSON.stringify(body))).join('\n'), /\$\.client\.secret_expires_at/);
    });

    test('a text block with a changed word, or a line more or less, is detected', () => {
      const { step, stdout } = stepWith(/resources create/);
      const body = step.shown[0]!.body;
      assert.deepEqual(outputDifferences(stdout, step.shown), []);
      assert.notDeepEqual(outputDifferences(stdout, withBody(step.shown[0]!, body.replace('orders:write', 'orders:delete'))), []);
      assert.notDeepEqual(outputDifferences(stdout, withBody(step.shown[0]!, `${body}\nrefresh tokens: yes`)), []);
      assert.notDeepEqual(outputDifferences(stdout, withBody(step.shown[0]!, body.split('\n').slice(1).join('\n'))), []);
    });

    test('masking hides what changes from run to run and nothing else', () => {
      assert.equal(
        maskVariableParts('client_id:     8f6468e68eef4f8d079758f0575da244 client_secret: W3fQLV_Z44yvDEqksT7Af2Ztc_dFFo4OVUoHTIQ5eSs'),
        'client_id:     <hex> client_secret: <base64url>',
      );
      assert.equal(maskVariableParts('"created_at": "2026-11-26T10:47:10.000Z"'), '"created_at": "<iso-date>"');
      assert.equal(maskVariableParts('database: /home/me/latchkey/data/latchkey.db'), 'database: <path>');
      assert.equal(maskVariableParts('Date: Sun, 06 Dec 2026 05:09:25 GMT'), 'Date: <http-date>');
      assert.equal(maskVariableParts('"iat":1795690046'), '"iat":<number>');
      assert.equal(maskVariableParts('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'), '<jwt>');
      for (const kept of ['client_credentials', 'client_secret_basic', 'https://api.example.com', 'orders:read orders:write', 'LATCHKEY_SECRET', 'expires_in 600']) {
        assert.equal(maskVariableParts(kept), kept);
      }
      assert.deepEqual(jsonDifferences({ n: 'zJw4ov8uXXXXXXXk30w' }, { n: 'zJw4ov8u...k30w' }), [], 'README abbreviates with ...');
    });
  });
});
