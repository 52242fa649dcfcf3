import fc from 'fast-check';

/**
 * How the fuzz suites run fast-check: one seed per process (LATCHKEY_FUZZ_SEED, else a random one,
 * printed at the start), a request counter the suites assert on, and failures that print what is
 * needed to replay them.
 *
 *   LATCHKEY_FUZZ_SEED=123 npm test -- packages/server/test/fuzz/token-endpoint.test.ts
 *   LATCHKEY_FUZZ_SEED=123 LATCHKEY_FUZZ_PATH='42:3:0' node --conditions=@latchkey/source --import tsx --test \
 *     --test-name-pattern='/token: client_credentials' packages/server/test/fuzz/token-endpoint.test.ts
 *
 * LATCHKEY_FUZZ_PATH (fast-check's `path` of the counterexample, printed with it) replays only the
 * shrunk counterexample of the property the name pattern selects. The requests are the same; the
 * server's state is not (a fresh server): a failure that needs what came before (a rate limit
 * reached) is replayed with the seed alone, running everything again. LATCHKEY_FUZZ_SCALE multiplies every
 * share (default 1; e.g. 10 for a soak run, with a larger --test-timeout); the suites assert at least
 * their share times the scale. LATCHKEY_FUZZ_IGNORE (regular expressions separated by `;;`) looks
 * past known violations to see what else a run finds, while they are being fixed; never in CI.
 */

function readSeed(): number {
  const fromEnv = process.env.LATCHKEY_FUZZ_SEED;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const seed = Number(fromEnv);
    if (!Number.isSafeInteger(seed)) throw new Error(`LATCHKEY_FUZZ_SEED must be an integer, got ${JSON.stringify(fromEnv)}`);
    return seed | 0;
  }
  return (Math.random() * 2 ** 31) | 0;
}

function readScale(): number {
  const fromEnv = process.env.LATCHKEY_FUZZ_SCALE;
  if (fromEnv === undefined || fromEnv.trim() === '') return 1;
  const scale = Number(fromEnv);
  if (!(scale > 0)) throw new Error(`LATCHKEY_FUZZ_SCALE must be a positive number, got ${JSON.stringify(fromEnv)}`);
  return scale;
}

export const FUZZ_SEED = readSeed();
export const FUZZ_SCALE = readScale();
const FUZZ_PATH = process.env.LATCHKEY_FUZZ_PATH || undefined;

let announced = false;

/** Prints the seed once per process, so a failing CI log always shows it. */
export function announceSeed(suite: string): void {
  if (announced) return;
  announced = true;
  console.log(`# fuzz (${suite}): LATCHKEY_FUZZ_SEED=${FUZZ_SEED}${FUZZ_SCALE === 1 ? '' : ` LATCHKEY_FUZZ_SCALE=${FUZZ_SCALE}`}`);
}

/** Requests sent, by label (an endpoint or a group), over the whole process. */
export class RequestCounter {
  private readonly counts = new Map<string, number>();

  add(label: string, n = 1): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + n);
  }

  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  /** `label: n` lines, largest first. */
  report(): string {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([label, n]) => `${label}: ${n}`)
      .join('\n');
  }
}

/** A share of generated requests, scaled. */
export function runs(share: number): number {
  return Math.max(1, Math.round(share * FUZZ_SCALE));
}

/**
 * fc.assert over an async property with the process's seed. On failure the error says how to replay
 * it (seed, path, the test) and carries the property's own error (the request and the response).
 */
export async function fuzz<T>(name: string, arbitrary: fc.Arbitrary<T>, numRuns: number, predicate: (value: T) => Promise<void>): Promise<void> {
  try {
    await fc.assert(fc.asyncProperty(arbitrary, predicate), {
      seed: FUZZ_SEED,
      numRuns,
      includeErrorInReport: true,
      ...(FUZZ_PATH ? { path: FUZZ_PATH, endOnFailure: true } : {}),
    });
  } catch (err) {
    const message = (err as Error).message;
    const path = /path: "([^"]*)"/.exec(message)?.[1];
    const file = process.argv.find((a) => a.endsWith('.test.ts'))?.replace(`${process.cwd()}/`, '') ?? '<the test file>';
    const replay =
      `replay: LATCHKEY_FUZZ_SEED=${FUZZ_SEED}${FUZZ_SCALE === 1 ? '' : ` LATCHKEY_FUZZ_SCALE=${FUZZ_SCALE}`}${path ? ` LATCHKEY_FUZZ_PATH='${path}'` : ''} ` +
      `node --conditions=@latchkey/source --import tsx --test --test-name-pattern='${name.replace(/[^\w /:-]/g, '.')}' ${file}`;
    console.log(`# fuzz failure in "${name}"\n# ${replay}`);
    const wrapped = new Error(`${name}: property failed (${replay})\n${message}`);
    throw wrapped;
  }
}
