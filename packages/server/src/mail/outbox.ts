import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import type { Logger } from 'pino';
import type { Settings } from '../config/defaults.ts';
import { applyMailOverrides, loadMailOverrides, type MailOverrides } from './overrides.ts';
import type { KeyEncryption } from '../keys/key-encryption.ts';
import { randomIdentifier, sha256 } from '../lib/random.ts';
import type { Storage } from '../storage/storage.ts';

/** A message as the templates make it (mail/templates.ts). */
export interface MailMessage {
  to: string;
  /** What it is, for logs and the outbox listing: verify-email, reset-password. */
  kind: string;
  subject: string;
  text: string;
  html: string;
  /** The values an operator's template may use (mail/overrides.ts): `{{link}}`, `{{service}}`, ... */
  vars?: Record<string, string>;
  /** The language it is written in (a BCP 47 tag), which chooses the operator's files (mail/overrides.ts). */
  locale?: string;
}

/** Messages to one address per hour, at most. */
export const MAX_PER_RECIPIENT_PER_HOUR = 10;
/** Attempts before a message is given up (the first and seven retries, over about two hours). */
export const MAX_ATTEMPTS = 8;
/** The wait after the first failure; it doubles after each, up to an hour. */
const FIRST_RETRY_SECONDS = 30;
const MAX_RETRY_SECONDS = 3600;
/** A claim on a message lasts this long: a node that dies mid-send releases it then. */
const CLAIM_SECONDS = 120;
/** How often each node looks for messages that are due (retries, and messages other nodes queued). */
const POLL_MS = 5000;

const aad = (id: string) => `mail:${id}`;

/**
 * Outgoing mail, outside the request path: a request queues a message in the database (its subject
 * and bodies encrypted with the LATCHKEY_SECRET key, because they hold single-use links) and returns;
 * a sender on every node claims due messages (one node per message), sends them by SMTP with
 * nodemailer, and forgets the body once sent. A failure is retried with a doubling wait; after
 * MAX_ATTEMPTS the message is given up. Logs name the message and its kind, never the body or a link.
 */
export class MailOutbox {
  private readonly settings: Settings;
  private readonly storage: Storage;
  private readonly encryption: KeyEncryption;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly transport: Transporter | undefined;
  private readonly overrides: MailOverrides;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(deps: { settings: Settings; storage: Storage; encryption: KeyEncryption; logger: Logger; now: () => number }) {
    this.settings = deps.settings;
    this.storage = deps.storage;
    this.encryption = deps.encryption;
    this.logger = deps.logger;
    this.now = deps.now;
    this.overrides = loadMailOverrides(deps.settings.themeDir);
    this.transport = deps.settings.smtpUrl
      ? nodemailer.createTransport({
          url: deps.settings.smtpUrl,
          requireTLS: deps.settings.smtpRequireTls,
          // A mail server that is down fails an attempt quickly; the outbox tries again later.
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 20_000,
          logger: false,
        } as SMTPTransport.Options)
      : undefined;
  }

  /** Whether mail can be sent (LATCHKEY_SMTP_URL is set). */
  get enabled(): boolean {
    return this.transport !== undefined;
  }

  /**
   * Queues a message and wakes the sender; the caller does not wait for SMTP. At most
   * MAX_PER_RECIPIENT_PER_HOUR messages go to one address per hour, whatever asked for them (many
   * accounts must not be able to fill one mailbox); past that a message is dropped and logged, and the
   * caller's answer is the same. Returns whether it was queued.
   */
  async enqueue(message: MailMessage): Promise<boolean> {
    if (!this.enabled) throw new Error('mail is not configured (LATCHKEY_SMTP_URL)');
    const now = this.now();
    const windowStart = now - (now % 3600);
    // The address is counted by its hash: the counter table holds no addresses.
    const key = `mail:to:${sha256(message.to.trim().toLowerCase())}`;
    if ((await this.storage.rateLimits.hit(key, windowStart)) > MAX_PER_RECIPIENT_PER_HOUR) {
      this.logger.warn({ kind: message.kind }, 'mail not queued: too many messages to this address this hour');
      return false;
    }
    const id = randomIdentifier(16);
    const final = applyMailOverrides(message, this.overrides);
    const body = JSON.stringify({ subject: final.subject, text: final.text, html: final.html });
    await this.storage.mailOutbox.enqueue({ id, recipient: message.to, kind: message.kind, bodyEnc: this.encryption.encrypt(body, aad(id)) }, this.now());
    this.logger.info({ mail: id, kind: message.kind }, 'mail queued');
    // A server sends it now; a CLI process leaves it to the running server's sender.
    if (this.timer) this.kick();
    return true;
  }

  /** Starts looking for due messages every few seconds (retries, other nodes' messages). */
  start(): void {
    if (!this.enabled) return;
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    this.transport?.close();
  }

  /** Sends what is due now, soon; one run at a time per node, another after it if asked meanwhile. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.deliverDue()
      .then(() => undefined)
      .catch((err: unknown) => this.logger.warn({ err }, 'mail delivery run failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** One run: claims the due messages and sends each. Exposed for tests and the CLI. */
  async deliverDue(): Promise<number> {
    if (!this.transport) return 0;
    let sent = 0;
    // One message claimed at a time: a slow server cannot let a claim lapse while others wait in it.
    for (let n = 0; n < 20; n++) {
      const [message] = await this.storage.mailOutbox.claimDue(this.now(), 1, CLAIM_SECONDS);
      if (!message) break;
      try {
        const body = JSON.parse(this.encryption.decrypt(message.bodyEnc, aad(message.id), `mail ${message.id}`)) as { subject: string; text: string; html: string };
        await this.transport.sendMail({ from: this.settings.mailFrom, to: message.recipient, subject: body.subject, text: body.text, html: body.html });
        await this.storage.mailOutbox.markSent(message.id, this.now());
        this.logger.info({ mail: message.id, kind: message.kind, attempts: message.attempts + 1 }, 'mail sent');
        sent++;
      } catch (err) {
        const attempts = message.attempts + 1;
        const giveUp = attempts >= MAX_ATTEMPTS;
        const wait = Math.min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (attempts - 1));
        const reason = err instanceof Error ? err.message : String(err);
        await this.storage.mailOutbox.markFailed(message.id, reason, this.now(), giveUp ? null : this.now() + wait);
        this.logger.warn({ mail: message.id, kind: message.kind, attempts, error: reason, ...(giveUp ? { gaveUp: true } : { retryInSeconds: wait }) }, giveUp ? 'mail given up' : 'mail not sent; will retry');
      }
    }
    return sent;
  }
}
