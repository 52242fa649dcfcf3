import { randomUUID } from 'node:crypto';
import type { ServerContext } from '../context.ts';
import type { StoredSigningKey } from '../storage/signing-key-store.ts';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './key-ring.ts';

/** The lease (storage/lock-store.ts) that the node rotating on schedule holds. */
export const ROTATION_LOCK = 'key-rotation';
/** How long the lease holds if its node dies mid-rotation: far longer than generating two keys takes. */
const LEASE_SECONDS = 300;
/** How often each node checks whether a rotation is due (and once at start). */
export const ROTATION_CHECK_SECONDS = 600;

export interface ScheduledRotation {
  alg: SigningAlgorithm;
  kid: string;
  activatesAt: number;
  retired: string[];
}

/**
 * When the newest key of an algorithm was created `keyRotationDays` ago (LATCHKEY_KEY_ROTATION_DAYS),
 * its successor is due: the time `keys list` shows; undefined when rotation is off.
 */
export function rotationDueAt(newest: StoredSigningKey, rotationDays: number): number | undefined {
  return rotationDays === 0 ? undefined : newest.createdAt + rotationDays * 86400;
}

/** Per algorithm, the key a rotation would replace: the newest one, never retired (or revoked). */
export function newestKeys(keys: readonly StoredSigningKey[]): Map<string, StoredSigningKey> {
  const newest = new Map<string, StoredSigningKey>();
  for (const key of keys) {
    if (key.retiredAt !== null) continue;
    const seen = newest.get(key.alg);
    if (!seen || key.createdAt > seen.createdAt) newest.set(key.alg, key);
  }
  return newest;
}

/**
 * Keys that rotate by themselves (issue 17). Every node checks on a timer; when the newest key of an
 * algorithm is older than LATCHKEY_KEY_ROTATION_DAYS, exactly one node rotates it the way `keys
 * rotate` does: the new key is published at once and signs only after LATCHKEY_KEY_PREPUBLISH_SECONDS,
 * and the old one stays published until the tokens it signed have expired (then the janitor purges
 * it). One node: the first to take the `key-rotation` lease in the database; and whether a rotation is
 * due is decided again in the transaction that rotates, so even a node whose lease ran out while it
 * was paused cannot rotate a second time. A new key, including one that replaced a revoked key, is
 * never due before its own age has passed, and a revoked key is never touched again.
 */
export class KeyRotationSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /** This process's name in the lease. */
  private readonly holder = randomUUID();

  private readonly ctx: ServerContext;
  private readonly retentionSeconds: () => Promise<number>;

  /** `retentionSeconds`: how long a replaced key stays published (server.ts keyRetentionSeconds). */
  constructor(ctx: ServerContext, retentionSeconds: () => Promise<number>) {
    this.ctx = ctx;
    this.retentionSeconds = retentionSeconds;
  }

  start(): void {
    if (this.ctx.settings.keyRotationDays === 0) return;
    const tick = () => {
      if (this.running) return;
      this.running = this.runOnce()
        .catch((err: unknown) => this.ctx.logger.warn({ err }, 'scheduled key rotation check failed'))
        .finally(() => {
          this.running = undefined;
        });
    };
    this.timer = setInterval(tick, ROTATION_CHECK_SECONDS * 1000);
    this.timer.unref();
    tick();
  }

  /** Stops the timer and waits for a check under way, so the database can be closed after. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Rotates every algorithm whose newest key is due, if this node gets the lease; returns what it rotated. */
  async runOnce(): Promise<ScheduledRotation[]> {
    const days = this.ctx.settings.keyRotationDays;
    if (days === 0) return [];
    const { storage } = this.ctx;
    // A cheap look first, without the lease: nearly always nothing is due.
    if (this.due(await storage.signingKeys.listAll(), days).length === 0) return [];
    if (!(await storage.locks.tryAcquire(ROTATION_LOCK, this.holder, this.ctx.now(), LEASE_SECONDS))) return [];
    try {
      // Again, now that no other node rotates: one may have done it since the first look.
      const due = this.due(await storage.signingKeys.listAll(), days);
      const rotated: ScheduledRotation[] = [];
      if (due.length === 0) return rotated;
      const retainSeconds = await this.retentionSeconds();
      const prepublishSeconds = this.ctx.settings.keyPrepublishSeconds;
      for (const alg of due) {
        const r = await this.ctx.keys.rotateIfDue(alg, { retainSeconds, prepublishSeconds }, this.ctx.now() - days * 86400);
        if (!r) continue;
        rotated.push({ alg, ...r });
        this.ctx.logger.info(
          { alg, kid: r.kid, signsFrom: new Date(r.activatesAt * 1000).toISOString(), retired: r.retired, rotationDays: days },
          'signing key rotated on schedule: the new key is published now and signs after the pre-publication',
        );
      }
      return rotated;
    } finally {
      await storage.locks.release(ROTATION_LOCK, this.holder);
    }
  }

  private due(keys: readonly StoredSigningKey[], days: number): SigningAlgorithm[] {
    const newest = newestKeys(keys);
    const now = this.ctx.now();
    return SIGNING_ALGORITHMS.filter((alg) => {
      const key = newest.get(alg);
      const dueAt = key && rotationDueAt(key, days);
      return dueAt !== undefined && dueAt <= now;
    });
  }
}
