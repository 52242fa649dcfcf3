import type { ServerContext } from '../context.ts';
import { nowSeconds } from '../lib/clock.ts';
import { pickSigner, SIGNING_ALGORITHMS, type SigningAlgorithm } from './key-ring.ts';
import { newestKeys, rotationDueAt } from './rotation-schedule.ts';
import { keyRetentionSeconds } from '../server.ts';
import type { StoredSigningKey } from '../storage/signing-key-store.ts';

/**
 * The signing keys as administrators see and change them: `latchkey keys list|rotate` and the admin
 * API's `/keys` (docs/admin-api.md) call these.
 */

const iso = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());

/** One key as listed: its state, age and schedule; never the private key. */
export interface SigningKeyRow {
  kid: string;
  alg: string;
  status: string;
  created_at: string | null;
  age_seconds: number;
  signs_from: string | null;
  signs_until: string | null;
  unpublish_at: string | null;
  next_rotation_at: string | null;
}

/** Every signing key, oldest first, and the rotation schedule (LATCHKEY_KEY_ROTATION_DAYS). */
export async function listSigningKeys(ctx: ServerContext): Promise<{ keys: SigningKeyRow[]; rotation_days: number }> {
  const keys = await ctx.storage.signingKeys.listAll();
  const now = nowSeconds();
  const rotationDays = ctx.settings.keyRotationDays;
  const newest = newestKeys(keys);
  const rows = keys.map((k) => ({
    kid: k.kid,
    alg: k.alg,
    status: keyStatus(k, keys, now),
    created_at: iso(k.createdAt),
    age_seconds: Math.max(0, now - k.createdAt),
    signs_from: iso(k.activatesAt),
    signs_until: iso(k.retiredAt),
    unpublish_at: iso(k.expiresAt),
    // The newest key of each algorithm: when the schedule publishes its successor (null: never).
    next_rotation_at: newest.get(k.alg) === k ? iso(rotationDueAt(k, rotationDays) ?? null) : null,
  }));
  return { keys: rows, rotation_days: rotationDays };
}

/** `all` or one algorithm, as the algorithms to rotate; undefined for anything else. */
export function rotationAlgorithms(alg: string): SigningAlgorithm[] | undefined {
  if (alg === 'all') return [...SIGNING_ALGORITHMS];
  return (SIGNING_ALGORITHMS as readonly string[]).includes(alg) ? [alg as SigningAlgorithm] : undefined;
}

/**
 * Rotates the keys of `algs`: each new key is published now and signs after the prepublish time (at
 * once with `immediately`, for a compromised key); the old ones stay published for the retention time.
 */
export async function rotateSigningKeys(ctx: ServerContext, algs: SigningAlgorithm[], options: { immediately?: boolean } = {}) {
  const retainSeconds = await keyRetentionSeconds(ctx);
  const prepublishSeconds = options.immediately ? 0 : ctx.settings.keyPrepublishSeconds;
  const rotated = [];
  for (const a of algs) {
    const r = await ctx.keys.rotate(a, { retainSeconds, prepublishSeconds });
    rotated.push({ alg: a, kid: r.kid, signs_from: iso(r.activatesAt), retired: r.retired });
  }
  return { rotated, old_keys_published_for_seconds: retainSeconds, prepublish_seconds: prepublishSeconds };
}

/** signing: signs now; next: published, signs later; published: retired, still in the JWKS; expired. */
function keyStatus(key: StoredSigningKey, all: StoredSigningKey[], now: number): string {
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
  if (pickSigner(all, key.alg, now)?.kid === key.kid) return 'signing';
  if (key.activatesAt > now) return 'next';
  return 'published';
}
