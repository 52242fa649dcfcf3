import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestDatabase } from './backends.ts';
import { TEST_SECRET } from './server.ts';

/** The repository root: `npx latchkey` runs from here. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The environment the CLI needs to find a test database: the same settings the server reads. */
export function dbEnv(db: TestDatabase): Record<string, string | undefined> {
  return { LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_DATA_DIR: db.dataDir, DATABASE_URL: db.databaseUrl };
}

/** The CLI entry point, relative to the repository root. */
export const LATCHKEY_BIN = 'packages/server/bin/latchkey.js';

const children = new Set<ChildProcess>();

/** Kills (SIGKILL) every latchkey child process still running. Call it in after(). */
export function killLatchkeyProcesses(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}
// A last resort when the test process exits without its after() hooks having run.
process.once('exit', killLatchkeyProcesses);

/** A minimal environment: PATH and the given variables only (nothing from the test runner leaks in). */
function minimalEnv(vars: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = v;
  return env;
}

function spawnLatchkey(args: string[], env: Record<string, string | undefined>, cwd: string, stdin?: string): ChildProcess {
  const bin = cwd === REPO_ROOT ? LATCHKEY_BIN : join(REPO_ROOT, LATCHKEY_BIN);
  const child = spawn(process.execPath, [bin, ...args], {
    cwd,
    env: minimalEnv(env),
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (stdin !== undefined) child.stdin!.end(stdin);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node packages/server/bin/latchkey.js ...args` (from the repository root unless `cwd` is given). */
export function runLatchkey(
  args: string[],
  env: Record<string, string | undefined>,
  options: { cwd?: string; timeoutMs?: number; stdin?: string; onStdout?: (soFar: string) => void } = {},
): Promise<CliResult> {
  const child = spawnLatchkey(args, env, options.cwd ?? REPO_ROOT, options.stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    options.onStdout?.(stdout);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `latchkey serve` as a child process with the given environment (which must set PORT) and
 * waits until `GET /readyz` answers 200.
 */
export async function startServeProcess(
  env: Record<string, string | undefined>,
  options: { timeoutMs?: number } = {},
): Promise<ServeProcess> {
  const url = `http://127.0.0.1:${env.PORT}`;
  const child = spawnLatchkey(['serve'], { HOST: '127.0.0.1', ...env }, REPO_ROOT);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`latchkey serve exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`latchkey serve was not ready within the timeout:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    output: () => output,
    async stop(timeoutMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
