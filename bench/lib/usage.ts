import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { rssBytes } from './processes.ts';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/<pid>/stat after the command name, which may itself hold spaces and parentheses. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** `pid` and all its descendants (Apache's parent and its worker processes, for instance). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [pid];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = Number(statFields(Number(entry))?.[1]);
    if (!Number.isFinite(ppid)) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** User plus system CPU time of each process, in seconds, by pid. */
function cpuSecondsByPid(pids: number[]): Map<number, number> {
  const times = new Map<number, number>();
  for (const pid of pids) {
    const fields = statFields(pid);
    // utime and stime are the 14th and 15th fields of the whole line: 12th and 13th after the name.
    if (fields) times.set(pid, (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND);
  }
  return times;
}

export interface Usage {
  /** Highest sum of the tree's resident set sizes seen, in bytes. */
  peakRssBytes: number;
  /** CPU time (user + system) the tree spent while the work ran, in seconds. */
  cpuSeconds: number;
}

/**
 * Samples the process trees rooted at `roots` while `work` runs: summed RSS every 100 ms (the tree is
 * listed again every second, so workers Apache starts under load count too) and the CPU time spent.
 */
export async function withUsage<T, K extends string>(
  roots: Record<K, number>,
  work: () => Promise<T>,
): Promise<{ result: T; usage: Record<K, Usage> }> {
  const names = Object.keys(roots) as K[];
  const state = new Map(
    names.map((name) => {
      const tree = processTree(roots[name]);
      return [name, { tree, startCpu: cpuSecondsByPid(tree), peakRssBytes: 0 }];
    }),
  );
  const sampleRss = () => {
    for (const s of state.values()) s.peakRssBytes = Math.max(s.peakRssBytes, s.tree.reduce((sum, pid) => sum + rssBytes(pid), 0));
  };
  sampleRss();
  let ticks = 0;
  const timer = setInterval(() => {
    if (++ticks % 10 === 0) {
      for (const [name, s] of state) s.tree = processTree(roots[name]);
    }
    sampleRss();
  }, 100);
  try {
    const result = await work();
    sampleRss();
    const usage = {} as Record<K, Usage>;
    for (const [name, s] of state) {
      const tree = processTree(roots[name]);
      const endCpu = cpuSecondsByPid(tree);
      // A process that started during the work counts from zero; one that ended is lost (rare here).
      let cpuSeconds = 0;
      for (const [pid, seconds] of endCpu) cpuSeconds += seconds - (s.startCpu.get(pid) ?? 0);
      usage[name] = { peakRssBytes: s.peakRssBytes, cpuSeconds };
    }
    return { result, usage };
  } finally {
    clearInterval(timer);
  }
}
