import { createLocalJWKSet, errors, type JWSHeaderParameters } from 'jose';
import { JwksUnavailableError } from '../errors.ts';
import { getJson } from './http.ts';
import type { MetadataSource } from './metadata.ts';
import type { ResolvedValidatorOptions } from './options.ts';

type KeySet = ReturnType<typeof createLocalJWKSet>;
type Key = Awaited<ReturnType<KeySet>>;

/**
 * The issuer's JWK Set, fetched from the metadata's `jwks_uri` and kept:
 * - used for `jwksCacheSeconds`, then fetched again before the next validation;
 * - an unknown `kid` fetches it again at most once per `jwksCooldownSeconds` (RFC 8725 §3.1 via
 *   docs/security.md K73), and every token waiting meanwhile shares that one fetch;
 * - a failed fetch keeps the keys already held (the issuer may be down for a while) and is retried
 *   after the cooldown, never sooner.
 * jose selects and imports the key (createLocalJWKSet): kid, alg, kty, crv and `use` must all match.
 */
export class JwksCache {
  private keySet: KeySet | undefined;
  /** When the next regular fetch is due (after a success: cache interval; after a failure: cooldown). */
  private nextFetchAtMs = 0;
  private lastUnknownKidFetchAtMs = Number.NEGATIVE_INFINITY;
  private fetching: Promise<void> | undefined;
  /** Why the latest fetch failed; undefined once a fetch succeeds. */
  private lastFailure: unknown;

  private readonly metadata: MetadataSource;
  private readonly options: ResolvedValidatorOptions;

  constructor(
    metadata: MetadataSource,
    options: ResolvedValidatorOptions,
  ) {
    this.metadata = metadata;
    this.options = options;
  }

  /** jose's key resolver: the issuer's key for this protected header. */
  async key(header: JWSHeaderParameters): Promise<Key> {
    // Due at first use, then after each interval; after a failure only once the cooldown has passed.
    if (Date.now() >= this.nextFetchAtMs) await this.refresh();
    if (!this.keySet) throw this.unavailable();
    try {
      return await this.keySet(header);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
    }
    // The issuer may have rotated since the last fetch: look again, within the rate limit.
    await this.refreshForUnknownKid();
    // Nothing matches and the issuer cannot be asked: the token may be good, so 503, not 401.
    if (this.lastFailure !== undefined) throw this.unavailable();
    return this.keySet(header);
  }

  private refreshForUnknownKid(): Promise<void> {
    if (this.fetching) return this.fetching;
    // The issuer just failed: it is asked again after the cooldown, not on every unknown kid.
    if (this.lastFailure !== undefined && Date.now() < this.nextFetchAtMs) return Promise.resolve();
    if (Date.now() - this.lastUnknownKidFetchAtMs < this.options.jwksCooldownSeconds * 1000) return Promise.resolve();
    this.lastUnknownKidFetchAtMs = Date.now();
    return this.refresh();
  }

  /** One fetch at a time; whoever asks meanwhile waits for it. Never rejects. */
  private refresh(): Promise<void> {
    this.fetching ??= this.fetch().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetch(): Promise<void> {
    try {
      const uri = this.options.jwksUri ?? (await this.metadata.endpoint('jwks_uri'));
      const jwks = await getJson(this.options.fetch, uri, this.options.httpTimeoutSeconds);
      this.keySet = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
      this.lastFailure = undefined;
      this.nextFetchAtMs = Date.now() + this.options.jwksCacheSeconds * 1000;
      this.options.onJwksFetch('success');
    } catch (err) {
      // Keep the keys we have: tokens signed by them stay valid while the issuer is unreachable.
      this.lastFailure = err;
      this.nextFetchAtMs = Date.now() + this.options.jwksCooldownSeconds * 1000;
      this.options.onJwksFetch('failure');
    }
  }

  private unavailable(): JwksUnavailableError {
    const reason = this.lastFailure instanceof Error ? this.lastFailure.message : 'no keys fetched yet';
    return new JwksUnavailableError(`the JWKS of ${this.options.issuer} is unavailable: ${reason}`, {
      cause: this.lastFailure,
      retryAfterSeconds: Math.max(1, Math.ceil((this.nextFetchAtMs - Date.now()) / 1000)),
    });
  }
}
