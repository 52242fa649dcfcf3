import type { Logger } from 'pino';
import type { Settings } from '../config/defaults.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import { checkFetchableUrl, fetchGuarded } from '../lib/outbound-fetch.ts';
import { idTokenAlgorithmFor } from '../profiles/fapi2.ts';
import type { Storage } from '../storage/storage.ts';
import { issueLogoutToken } from './logout-token.ts';

/** Attempts before a logout is given up (the first and seven retries, over about an hour). */
export const MAX_ATTEMPTS = 8;
/** The wait after the first failure; it doubles after each, up to half an hour. */
const FIRST_RETRY_SECONDS = 15;
const MAX_RETRY_SECONDS = 1800;
/** A claim lasts this long: a node that dies mid-delivery releases it then. */
const CLAIM_SECONDS = 60;
/** How often each node looks for logouts that are due (retries, and those other nodes or the CLI queued). */
const POLL_MS = 5000;
/** One delivery may take this long, DNS included. */
const DELIVERY_TIMEOUT_MS = 5000;
/** The client's answer is read up to this size (its body means nothing to the OP). */
const MAX_ANSWER_BYTES = 16 * 1024;
/** Logouts delivered per run at most; the rest waits for the next. */
const PER_RUN = 50;

/**
 * Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5), outside the request path
 * as mail is (mail/outbox.ts): ending a session queues a row per client in the database
 * (logout/end-sessions.ts); a sender on every node claims due rows (one node per row), signs a fresh
 * logout token for each attempt, and POSTs it to the client's `backchannel_logout_uri` through the one
 * SSRF-guarded fetcher (lib/outbound-fetch.ts). §2.8: 200 or 204 is success; any other answer, a
 * redirect (never followed) or no answer is retried with a doubling wait, and given up after
 * MAX_ATTEMPTS. Logs name the client and the outcome, never the token.
 */
export class BackchannelLogoutOutbox {
  private readonly settings: Settings;
  private readonly storage: Storage;
  private readonly keys: KeyRing;
  private readonly logger: Logger;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(deps: { settings: Settings; storage: Storage; keys: KeyRing; logger: Logger; now: () => number }) {
    this.settings = deps.settings;
    this.storage = deps.storage;
    this.keys = deps.keys;
    this.logger = deps.logger;
    this.now = deps.now;
  }

  /** Starts looking for due logouts every few seconds. */
  start(): void {
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Delivers what is due, soon: one run at a time per node, another after it if asked meanwhile. Only a started outbox runs. */
  kick(): void {
    if (!this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.deliverDue()
      .then(() => undefined)
      .catch((err: unknown) => this.logger.warn({ err }, 'back-channel logout run failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** One run: claims the due logouts and delivers each; returns how many were delivered. Exposed for tests. */
  async deliverDue(): Promise<number> {
    let delivered = 0;
    for (let n = 0; n < PER_RUN; n++) {
      const [logout] = await this.storage.backchannelLogouts.claimDue(this.now(), 1, CLAIM_SECONDS);
      if (!logout) break;
      const client = await this.storage.clients.find(logout.clientId);
      const uri = client?.backchannelLogoutUri;
      // The client was deleted, or no longer wants logouts: nothing to deliver.
      if (!client || !uri) {
        await this.storage.backchannelLogouts.remove(logout.id);
        continue;
      }
      try {
        const problem = checkFetchableUrl(uri, 2000);
        if (problem) throw new Error(`backchannel_logout_uri ${problem}`);
        const token = await issueLogoutToken(this.keys, {
          issuer: this.settings.issuer,
          clientId: client.clientId,
          alg: idTokenAlgorithmFor(client),
          subject: logout.subject,
          sid: logout.sid,
          now: this.now(),
        });
        // §2.5: "The OP uses an HTTP POST to the registered back-channel logout URI ... using the
        // application/x-www-form-urlencoded encoding" with the single parameter logout_token.
        const answer = await fetchGuarded(uri, {
          allowLoopback: this.settings.allowLoopbackBackchannelLogout,
          loopbackSetting: 'LATCHKEY_ALLOW_LOOPBACK_BACKCHANNEL_LOGOUT',
          timeoutMs: DELIVERY_TIMEOUT_MS,
          maxBytes: MAX_ANSWER_BYTES,
          accept: 'application/json, */*',
          what: 'backchannel_logout_uri',
          caFile: this.settings.outboundCaFile,
          post: { body: new URLSearchParams({ logout_token: token }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', 'cache-control': 'no-store' } },
          anyStatus: true,
        });
        // §2.8: "If the logout succeeded, the RP MUST respond with HTTP 200 OK. However, note that some
        // Web frameworks will substitute an HTTP 204 No Content response for an HTTP 200 OK".
        if (answer.status !== 200 && answer.status !== 204) throw new Error(`the client answered ${answer.status}`);
        await this.storage.backchannelLogouts.remove(logout.id);
        this.logger.info({ client: client.clientId, attempts: logout.attempts + 1 }, 'back-channel logout delivered');
        delivered++;
      } catch (err) {
        const attempts = logout.attempts + 1;
        const reason = err instanceof Error ? err.message : String(err);
        if (attempts >= MAX_ATTEMPTS) {
          await this.storage.backchannelLogouts.remove(logout.id);
          this.logger.warn({ client: client.clientId, attempts, error: reason }, 'back-channel logout given up');
        } else {
          const wait = Math.min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (attempts - 1));
          await this.storage.backchannelLogouts.retryAt(logout.id, reason, this.now() + wait);
          this.logger.warn({ client: client.clientId, attempts, error: reason, retryInSeconds: wait }, 'back-channel logout not delivered; will retry');
        }
      }
    }
    return delivered;
  }
}
