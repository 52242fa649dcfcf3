import { nowSeconds } from '../lib/clock.ts';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose';
import { isUniqueViolation } from '../storage/database.ts';
import { pickSigner, type SigningKeyStore, type StoredSigningKey } from '../storage/signing-key-store.ts';

export { pickSigner };
import type { KeyEncryption } from './key-encryption.ts';

/** Algorithms Latchkey signs with. ES256 signs access tokens; RS256 is there because OIDC requires it. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface Signer {
  kid: string;
  alg: SigningAlgorithm;
  key: KeyObject;
}

export interface PublicJwk extends JWK {
  kid: string;
  alg: string;
  use: 'sig';
}

interface Snapshot {
  loadedAtMs: number;
  /** The keys version (storage/fact-version.ts) read before the keys: never newer than they are. */
  version: number;
  keys: StoredSigningKey[];
  jwks: { keys: PublicJwk[] };
}

export interface RotateOptions {
  /** How long the key that stops signing stays published (longest token lifetime and margins). */
  retainSeconds: number;
  /** How long the new key is published before it signs, so caches of the JWKS can pick it up. */
  prepublishSeconds: number;
}


/**
 * The signing keys as this node sees them. All state lives in the database. For signing, the ring
 * reads it again once its copy is older than `cacheSeconds` (a rotation is written ahead of time, the
 * new key's `activates_at`, so every node switches signer at the same moment by its clock, even
 * between reads). The JWKS and the keys that verify tokens are checked against the keys version on
 * every use, so a revoked key is gone on every node at once.
 */
export class KeyRing {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  private readonly privateKeys = new Map<string, KeyObject>();
  private lastForcedReloadMs = 0;

  private readonly store: SigningKeyStore;
  private readonly encryption: KeyEncryption;
  private readonly cacheSeconds: number;

  constructor(
    store: SigningKeyStore,
    encryption: KeyEncryption,
    cacheSeconds: number,
  ) {
    this.store = store;
    this.encryption = encryption;
    this.cacheSeconds = cacheSeconds;
  }

  /** Creates the first key of each algorithm that has none, then loads the ring. */
  async initialize(): Promise<void> {
    const published = await this.store.listPublished(nowSeconds());
    for (const alg of SIGNING_ALGORITHMS) {
      if (published.some((k) => k.alg === alg)) continue;
      const key = await this.generate(alg, nowSeconds());
      try {
        await this.store.insertSigner(key);
      } catch (err) {
        // Another node or process created the first key at the same moment: use theirs.
        if (!isUniqueViolation(err)) throw err;
      }
    }
    await this.reload();
    // Decrypt the signers now, so a wrong LATCHKEY_SECRET stops the start, not the first request.
    for (const alg of SIGNING_ALGORITHMS) await this.signer(alg);
  }

  /** The key that signs for `alg` now: the latest activated one that has not been retired. */
  async signer(alg: SigningAlgorithm = 'ES256'): Promise<Signer> {
    const key = pickSigner((await this.current()).keys, alg, nowSeconds());
    if (!key) throw new Error(`no active ${alg} signing key in the database`);
    let privateKey = this.privateKeys.get(key.kid);
    if (!privateKey) {
      privateKey = createPrivateKey(this.encryption.decrypt(key.privateKeyEnc, key.kid));
      this.privateKeys.set(key.kid, privateKey);
    }
    return { kid: key.kid, alg, key: privateKey };
  }

  /**
   * The public JWK Set (RFC 7517): public members only, each key with `kid`, `alg` and `use`. The same
   * object while the keys are unchanged, so what is derived from it can be cached by it.
   */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    return (await this.verifying()).jwks;
  }


  /**
   * Takes a compromised key out of the JWKS and out of signing at once; its algorithm's next key, or a
   * new one, signs from now on (storage/signing-key-store.ts). Tokens it signed stop validating here on
   * every node; other nodes stop signing with it within `cacheSeconds`.
   */
  async revoke(kid: string): Promise<{ alg: string; successor: string | undefined }> {
    const published = (await this.store.listAll()).find((k) => k.kid === kid);
    const alg = (SIGNING_ALGORITHMS as readonly string[]).includes(published?.alg ?? '') ? (published!.alg as SigningAlgorithm) : 'ES256';
    const result = await this.store.revoke(kid, nowSeconds(), await this.generate(alg, nowSeconds()));
    this.privateKeys.delete(kid);
    await this.reload();
    return result;
  }

  /**
   * Reloads when a token names a kid this node does not know yet (signed by a node that saw a
   * rotation first). Rate limited to once a second so unknown kids cannot hammer the database.
   */
  async reloadForUnknownKid(): Promise<boolean> {
    if (Date.now() - this.lastForcedReloadMs < 1000) return false;
    this.lastForcedReloadMs = Date.now();
    await this.reload();
    return true;
  }

  /**
   * Publishes a new key for `alg` now; it takes over signing after `prepublishSeconds` (0: at once,
   * for a compromised key). The key it replaces stays published `retainSeconds` after that.
   */
  async rotate(alg: SigningAlgorithm, options: RotateOptions): Promise<{ kid: string; activatesAt: number; retired: string[] }> {
    const activatesAt = nowSeconds() + options.prepublishSeconds;
    const key = await this.generate(alg, activatesAt);
    const retired = await this.store.rotate(key, activatesAt + options.retainSeconds);
    await this.reload();
    return { kid: key.kid, activatesAt, retired };
  }

  /**
   * `rotate`, for the schedule (keys/rotation-schedule.ts): only if the newest key of `alg` was created
   * at or before `newestCreatedBy`, checked in the transaction that rotates. Undefined when not due.
   */
  async rotateIfDue(
    alg: SigningAlgorithm,
    options: RotateOptions,
    newestCreatedBy: number,
  ): Promise<{ kid: string; activatesAt: number; retired: string[] } | undefined> {
    const activatesAt = nowSeconds() + options.prepublishSeconds;
    const key = await this.generate(alg, activatesAt);
    const retired = await this.store.rotateIfDue(key, activatesAt + options.retainSeconds, newestCreatedBy);
    if (!retired) return undefined;
    await this.reload();
    return { kid: key.kid, activatesAt, retired };
  }

  /**
   * The snapshot, read again first if any key changed since (one read of the keys version) or if it
   * is older than `cacheSeconds` (a retired key leaves the JWKS by the clock, without a change).
   */
  private async verifying(): Promise<Snapshot> {
    const snapshot = this.snapshot;
    const version = await this.store.version.current();
    const fresh = snapshot !== undefined && this.isFresh(snapshot);
    if (fresh && snapshot.version === version) return snapshot;
    const reloaded = await this.reload();
    // A load already under way may have begun before the change this request saw: load once more.
    return reloaded.version >= version ? reloaded : this.load();
  }

  private async current(): Promise<Snapshot> {
    const snapshot = this.snapshot;
    if (snapshot && this.isFresh(snapshot)) return snapshot;
    // Older than the cache interval (or none yet): read again before answering. One read in flight.
    return this.reload();
  }

  /** Read less than `cacheSeconds` ago; a copy read "in the future" (the clock was set back) is not. */
  private isFresh(snapshot: Snapshot): boolean {
    const age = Date.now() - snapshot.loadedAtMs;
    return age >= 0 && age < this.cacheSeconds * 1000;
  }

  private reload(): Promise<Snapshot> {
    if (this.loading) return this.loading;
    this.loading = this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<Snapshot> {
    const version = await this.store.version.current();
    const keys = await this.store.listPublished(nowSeconds());
    const jwks = keys.map(publicJwk);
    const snapshot: Snapshot = {
      loadedAtMs: Date.now(),
      version,
      keys,
      jwks: { keys: jwks },
    };
    this.snapshot = snapshot;
    return snapshot;
  }

  private async generate(alg: SigningAlgorithm, activatesAt: number): Promise<StoredSigningKey> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
    const jwk = await exportJWK(publicKey);
    // RFC 7638 thumbprint as kid: stable, derived from the key, unique per key.
    const kid = await calculateJwkThumbprint(jwk, 'sha256');
    const pkcs8 = await exportPKCS8(privateKey);
    return {
      kid,
      alg,
      publicJwk: { ...jwk, kid, alg, use: 'sig' },
      privateKeyEnc: this.encryption.encrypt(pkcs8, kid),
      createdAt: nowSeconds(),
      activatesAt,
      retiredAt: null,
      expiresAt: null,
    };
  }
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/** Copies only the public members, so a stored JWK can never leak `d`, `p`, `q` or `k`. */
function publicJwk(key: StoredSigningKey): PublicJwk {
  const out: Record<string, unknown> = {};
  for (const member of PUBLIC_MEMBERS) {
    if (key.publicJwk[member] !== undefined) out[member] = key.publicJwk[member];
  }
  return { ...out, kid: key.kid, alg: key.alg, use: 'sig' } as PublicJwk;
}
