import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A PostgreSQL instance of the suite's own, which it may stop and freeze without disturbing the shared
 * test server: initdb and pg_ctl from Debian's server binaries (/usr/lib/postgresql/<version>/bin, or
 * LATCHKEY_CHAOS_PG_BIN), a temporary data directory, trust authentication, 127.0.0.1 only.
 * PostgreSQL refuses to run as root, so under root every command runs as the `postgres` system user.
 */

/** The newest Debian PostgreSQL bin directory with initdb and pg_ctl, if any. */
export function findPostgresBin(): string | undefined {
  const candidates = process.env.LATCHKEY_CHAOS_PG_BIN ? [process.env.LATCHKEY_CHAOS_PG_BIN] : debianBins();
  return candidates.find((bin) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl')));
}

function debianBins(): string[] {
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    return [];
  }
  return versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a)).map((v) => join(root, v, 'bin'));
}

const isRoot = () => process.getuid?.() === 0;

/** uid and gid of the `postgres` system user, when there is one. */
function postgresUser(): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Why the suite cannot start its own instance here, or undefined when it can. */
export function ownPostgresUnavailable(): string | undefined {
  if (!findPostgresBin()) return 'no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/<version>/bin; set LATCHKEY_CHAOS_PG_BIN';
  if (isRoot()) {
    if (!postgresUser()) return 'running as root, and there is no postgres system user to run PostgreSQL as';
    if (spawnSync('runuser', ['--help']).error) return 'running as root, and runuser is missing';
  }
  return undefined;
}

/** Signals every process in `pids`, ignoring those already gone. */
function signalAll(pids: Iterable<number>, signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

/** The children of `parent`, from /proc (the postmaster's backends, checkpointer, walwriter, ...). */
function childrenOf(parent: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/PID/stat is the parent's pid; field 2 (the name) is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

export class OwnPostgres {
  readonly url: string;
  private readonly dataDir: string;
  private readonly logFile: string;
  private frozen = new Set<number>();
  private readonly lastResort = () => this.destroySync();

  private readonly bin: string;
  private readonly dir: string;
  readonly port: number;

  private constructor(
    bin: string,
    dir: string,
    port: number,
  ) {
    this.bin = bin;
    this.dir = dir;
    this.port = port;
    this.dataDir = join(dir, 'data');
    this.logFile = join(dir, 'postgres.log');
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    // Never leave an instance running, even when the test process ends without its after() hooks.
    process.once('exit', this.lastResort);
  }

  /** initdb into a fresh temporary directory and start the instance on `port`. */
  static async create(port: number): Promise<OwnPostgres> {
    const bin = findPostgresBin();
    if (!bin) throw new Error(ownPostgresUnavailable());
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-chaos-pg-'));
    if (isRoot()) {
      const user = postgresUser();
      if (!user) throw new Error(ownPostgresUnavailable());
      chownSync(dir, user.uid, user.gid);
    }
    const instance = new OwnPostgres(bin, dir, port);
    try {
      await instance.command('initdb', ['-D', instance.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
      await instance.start();
    } catch (err) {
      await instance.destroy();
      throw err;
    }
    return instance;
  }

  /** Runs a PostgreSQL program (as the postgres user under root). */
  private async command(program: string, args: string[]): Promise<string> {
    const path = join(this.bin, program);
    const [file, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
    try {
      const { stdout } = await run(file, argv, { timeout: 60_000, cwd: this.dir });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${program} failed: ${e.stderr || e.message}\n${this.log()}`);
    }
  }

  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${this.dir}`,
      '-c fsync=off',
      '-c shared_buffers=16MB',
      '-c max_connections=60',
    ].join(' ');
    await this.command('pg_ctl', ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', '-o', options, 'start']);
  }

  /** `pg_ctl stop -m immediate`: every backend ends at once, like a crash; the next start recovers. */
  async stopImmediately(): Promise<void> {
    await this.command('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '60', 'stop']);
  }

  /** The postmaster's pid, from postmaster.pid, while it runs (a stale file's pid may be another process's by now). */
  postmasterPid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.dataDir) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * SIGSTOP to the postmaster and every one of its children: the kernel still completes TCP connections
   * on the listening socket, but nothing reads or answers them, nor the queries on open connections.
   */
  freeze(): number[] {
    const postmaster = this.postmasterPid();
    if (postmaster === undefined) throw new Error('the instance is not running');
    // The postmaster first, so it forks nothing new while its children are stopped.
    signalAll([postmaster], 'SIGSTOP');
    this.frozen.add(postmaster);
    for (let pass = 0; pass < 2; pass++) {
      const children = childrenOf(postmaster);
      signalAll(children, 'SIGSTOP');
      for (const pid of children) this.frozen.add(pid);
    }
    return [...this.frozen];
  }

  thaw(): void {
    const postmaster = this.postmasterPid();
    const pids = new Set(this.frozen);
    if (postmaster !== undefined) for (const pid of [postmaster, ...childrenOf(postmaster)]) pids.add(pid);
    signalAll(pids, 'SIGCONT');
    this.frozen.clear();
  }

  /** The server's own log, for failure messages. */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-3000);
    } catch {
      return '';
    }
  }

  /** Thaws, stops (immediate, else SIGKILL) and removes the directory. Safe to call more than once. */
  async destroy(): Promise<void> {
    this.thaw();
    if (this.postmasterPid() !== undefined && existsSync(this.dataDir)) {
      await this.stopImmediately().catch(() => {});
    }
    this.destroySync();
  }

  /** The synchronous part of destroy(), also the last resort at process exit. */
  private destroySync(): void {
    process.removeListener('exit', this.lastResort);
    const postmaster = this.postmasterPid();
    if (postmaster !== undefined) {
      const pids = [postmaster, ...childrenOf(postmaster), ...this.frozen];
      signalAll(pids, 'SIGCONT');
      signalAll(pids, 'SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
