import { createPrivateKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose';
import { isUniqueViolation } from '../storage/database.ts';
import type { SigningKeyStore, StoredSigningKey } from '../storage/signing-key-store.ts';
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
  signers: Map<string, Signer>;
  jwks: { keys: PublicJwk[] };
  keySet: ReturnType<typeof createLocalJWKSet>;
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * The signing keys as this node sees them. All state lives in the database: the ring re-reads it every
 * `cacheSeconds`, so a key rotated by the CLI or by another node becomes the signer here within that
 * interval (the old key stays published far longer than that, so tokens keep verifying).
 */
export class KeyRing {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  private readonly privateKeys = new Map<string, KeyObject>();
  private lastForcedReloadMs = 0;

  constructor(
    private readonly store: SigningKeyStore,
    private readonly encryption: KeyEncryption,
    private readonly cacheSeconds: number,
  ) {}

  /** Creates the first key of each algorithm that has none, then loads the ring. */
  async initialize(): Promise<void> {
    const published = await this.store.listPublished(now());
    for (const alg of SIGNING_ALGORITHMS) {
      if (published.some((k) => k.alg === alg && k.retiredAt === null)) continue;
      const key = await this.generate(alg);
      try {
        await this.store.insertSigner(key);
      } catch (err) {
        // Another node or process created the signer at the same moment: use theirs.
        if (!isUniqueViolation(err)) throw err;
      }
    }
    await this.reload();
  }

  /** The current signer for `alg`. */
  async signer(alg: SigningAlgorithm = 'ES256'): Promise<Signer> {
    const snapshot = await this.current();
    const signer = snapshot.signers.get(alg);
    if (signer) return signer;
    // A rotation is half-seen or the ring was never initialised: read again before failing.
    const fresh = await this.reload();
    const again = fresh.signers.get(alg);
    if (!again) throw new Error(`no ${alg} signing key in the database`);
    return again;
  }

  /** The public JWK Set (RFC 7517): public members only, each key with `kid`, `alg` and `use`. */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    return (await this.current()).jwks;
  }

  /** A jose key resolver over the published keys, for verifying tokens this server issued. */
  async keySet(): Promise<Snapshot['keySet']> {
    return (await this.current()).keySet;
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
   * Publishes a new key for `alg` and makes it the signer. The old signer stays in the JWKS for
   * `retainSeconds` (longest token lifetime plus the nodes' cache interval and clock tolerance).
   */
  async rotate(alg: SigningAlgorithm, retainSeconds: number): Promise<{ kid: string; retired: string[] }> {
    const key = await this.generate(alg);
    const at = now();
    const retired = await this.store.rotate(key, at, at + retainSeconds);
    await this.reload();
    return { kid: key.kid, retired };
  }

  private async current(): Promise<Snapshot> {
    const snapshot = this.snapshot;
    if (!snapshot) return this.reload();
    if (Date.now() - snapshot.loadedAtMs >= this.cacheSeconds * 1000) {
      if (this.cacheSeconds === 0) return this.reload();
      // Stale: serve what we have and refresh in the background (one refresh in flight).
      this.reload().catch(() => {});
    }
    return snapshot;
  }

  private reload(): Promise<Snapshot> {
    if (this.loading) return this.loading;
    this.loading = this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<Snapshot> {
    const keys = await this.store.listPublished(now());
    const signers = new Map<string, Signer>();
    const jwks: PublicJwk[] = [];
    for (const key of keys) {
      jwks.push(publicJwk(key));
      if (key.retiredAt === null && isSigningAlgorithm(key.alg)) {
        signers.set(key.alg, { kid: key.kid, alg: key.alg, key: this.privateKey(key) });
      }
    }
    const snapshot: Snapshot = {
      loadedAtMs: Date.now(),
      signers,
      jwks: { keys: jwks },
      keySet: createLocalJWKSet({ keys: jwks }),
    };
    this.snapshot = snapshot;
    return snapshot;
  }

  private privateKey(key: StoredSigningKey): KeyObject {
    let cached = this.privateKeys.get(key.kid);
    if (!cached) {
      cached = createPrivateKey(this.encryption.decrypt(key.privateKeyEnc, key.kid));
      this.privateKeys.set(key.kid, cached);
    }
    return cached;
  }

  private async generate(alg: SigningAlgorithm): Promise<StoredSigningKey> {
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
      createdAt: now(),
      retiredAt: null,
      expiresAt: null,
    };
  }
}

function isSigningAlgorithm(alg: string): alg is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(alg);
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
