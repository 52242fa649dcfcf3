import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface ServerProcess {
  name: string;
  url: string;
  child: ChildProcess;
  /** Milliseconds from spawn until the readiness URL answered 200. */
  startupMs: number;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns a server and waits (polling every 5 ms) until `readyUrl` answers 200. */
export async function startProcess(options: {
  name: string;
  url: string;
  readyUrl: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** A file descriptor for the server's standard output (its request log), instead of a pipe to the harness. */
  stdoutFd?: number;
}): Promise<ServerProcess> {
  const started = performance.now();
  const child = spawn(options.command, options.args, { env: options.env, stdio: ['ignore', options.stdoutFd ?? 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
  const deadline = started + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${options.name} exited (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(options.readyUrl);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const startupMs = performance.now() - started;
  return {
    name: options.name,
    url: options.url,
    child,
    startupMs,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      running.delete(child);
    },
  };
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every 100 ms while `work` runs; resolves to the work's result and the peak. */
export async function withRssPeak<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakRss: number }> {
  let peakRss = rssBytes(pid);
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, rssBytes(pid));
  }, 100);
  try {
    const result = await work();
    peakRss = Math.max(peakRss, rssBytes(pid));
    return { result, peakRss };
  } finally {
    clearInterval(timer);
  }
}
