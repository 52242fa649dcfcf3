/**
 * How hard the chaos suites push. `npm test` (CI) runs the short profile, small enough for a 2-core
 * machine; `npm run test:chaos` sets LATCHKEY_CHAOS_PROFILE=full. Both are bounded: every loop stops at
 * a deadline or a request cap, whichever comes first.
 */
export interface ChaosProfile {
  name: 'short' | 'full';
  /** Latchkey processes sharing one PostgreSQL database. */
  nodes: number;
  /** Refresh-token chains under load (each one request at a time, hopping between nodes). */
  chains: number;
  /** Client-credentials workers under load (token, introspection, now and then a revocation). */
  workers: number;
  /** Load before and after the kill -9, in milliseconds. */
  loadBeforeKillMs: number;
  loadAfterKillMs: number;
  /** Light load kept up while the reuse, revocation and key-rotation checks run. */
  backgroundWorkers: number;
  /** Hard cap on the requests of one load run. */
  maxRequests: number;
  /** Revocations checked on every node, per revoking node. */
  revocationsPerNode: number;
  /** Stop/start and freeze/thaw cycles of the suite's own PostgreSQL instance. */
  outageCycles: number;
  /** Concurrent requests per endpoint in each round of an outage. */
  outageConcurrency: number;
  /** Times the SQLite server is killed during writes (each followed by a check and a restart). */
  sqliteKills: number;
  /** Write load before each SQLite kill, in milliseconds (the kill lands somewhere in its second half). */
  sqliteLoadMs: number;
  /** Writers (opaque tokens and their revocations) and refresh chains of the SQLite load. */
  sqliteWorkers: number;
  sqliteChains: number;
}

const SHORT: ChaosProfile = {
  name: 'short',
  nodes: 3,
  chains: 3,
  workers: 2,
  loadBeforeKillMs: 2500,
  loadAfterKillMs: 2500,
  backgroundWorkers: 1,
  maxRequests: 4000,
  revocationsPerNode: 2,
  outageCycles: 1,
  outageConcurrency: 3,
  sqliteKills: 1,
  sqliteLoadMs: 2000,
  sqliteWorkers: 3,
  sqliteChains: 2,
};

const FULL: ChaosProfile = {
  name: 'full',
  nodes: 4,
  chains: 12,
  workers: 8,
  loadBeforeKillMs: 15_000,
  loadAfterKillMs: 15_000,
  backgroundWorkers: 4,
  maxRequests: 60_000,
  revocationsPerNode: 20,
  outageCycles: 3,
  outageConcurrency: 8,
  sqliteKills: 4,
  sqliteLoadMs: 5000,
  sqliteWorkers: 8,
  sqliteChains: 4,
};

function chosen(): ChaosProfile {
  const name = process.env.LATCHKEY_CHAOS_PROFILE ?? 'short';
  if (name === 'short' || name === '') return SHORT;
  if (name === 'full') return FULL;
  throw new Error(`LATCHKEY_CHAOS_PROFILE must be short or full, not ${JSON.stringify(name)}`);
}

export const profile: ChaosProfile = chosen();
