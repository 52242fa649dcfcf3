import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoredSigningKey } from '../storage/signing-key-store.ts';

/** What the login form decided (http/login-form.ts); the `result` label of latchkey_server_sign_ins_total. */
export type SignInResult =
  | 'success'
  | 'invalid_credentials'
  | 'disabled'
  | 'rate_limited'
  | 'email_unconfirmed'
  | 'form_expired'
  | 'passkey_failed';

/** A database statement's kind; the `operation` label of latchkey_server_db_query_duration_seconds. */
export type DbOperation = 'select' | 'insert' | 'update' | 'delete' | 'transaction' | 'other';

/**
 * The server's Prometheus metrics (README "Metrics and traces"), in a registry of its own per server
 * (not prom-client's global one, so that several servers in one process, as in the tests, do not
 * collide). Names follow the gateway's (packages/gateway/src/lib/metrics.ts): `latchkey_<component>_`,
 * counters end in `_total`, durations are `_seconds`, the endpoint is `route`, what became of
 * something is `result`. Label values are bounded: route patterns, status codes, RFC error codes,
 * grant types, fixed results; never a raw path, a client id, a token or a user.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'latchkey_server_requests_total',
    help: 'HTTP requests by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'latchkey_server_request_duration_seconds',
    help: 'Time from receiving a request to sending its answer, by route pattern and method.',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly tokensIssued = new Counter({
    name: 'latchkey_server_tokens_issued_total',
    help: 'Successful token responses, by grant type.',
    labelNames: ['grant_type'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'latchkey_server_errors_total',
    help: 'Error answers by OAuth error code (invalid_client, invalid_grant, server_error, ...).',
    labelNames: ['error'] as const,
    registers: [this.registry],
  });
  readonly signIns = new Counter({
    name: 'latchkey_server_sign_ins_total',
    help: 'Sign-in form submissions, by method (password, passkey) and result.',
    labelNames: ['method', 'result'] as const,
    registers: [this.registry],
  });
  readonly refreshReuse = new Counter({
    name: 'latchkey_server_refresh_token_reuse_total',
    help: 'Refresh tokens presented again after rotation (RFC 9700 §4.14.2): each revoked its token family.',
    registers: [this.registry],
  });
  readonly dbQueryDuration = new Histogram({
    name: 'latchkey_server_db_query_duration_seconds',
    help: 'Database statements through the query builder, by operation.',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  private processMetrics = false;

  /** `signingKeys` is read at every scrape, for the age of each algorithm's current signing key. */
  constructor(options: { signingKeys?: () => Promise<StoredSigningKey[]>; now?: () => number } = {}) {
    const { signingKeys, now = () => Math.floor(Date.now() / 1000) } = options;
    if (signingKeys) {
      new Gauge({
        name: 'latchkey_server_signing_key_age_seconds',
        help: 'Age of the key that signs now, by algorithm (time since it was created).',
        labelNames: ['alg'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          const at = now();
          for (const [alg, key] of signersAt(await signingKeys(), at)) this.set({ alg }, Math.max(0, at - key.createdAt));
        },
      });
    }
  }

  /** prom-client's process and Node.js metrics (CPU, memory, event loop lag, GC): for a registry that is served. */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_server_' });
  }
}

/** Per algorithm, the key that signs at `now`: the latest activated one not yet retired (keys/key-ring.ts). */
export function signersAt(keys: readonly StoredSigningKey[], now: number): Map<string, StoredSigningKey> {
  const signers = new Map<string, StoredSigningKey>();
  for (const key of keys) {
    if (key.activatesAt > now || (key.retiredAt !== null && key.retiredAt <= now)) continue;
    const current = signers.get(key.alg);
    if (!current || key.activatesAt > current.activatesAt) signers.set(key.alg, key);
  }
  return signers;
}
