import type { Logger } from 'pino';
import type { Settings } from './config/defaults.ts';
import type { IssuerUrls } from './config/issuer-urls.ts';
import type { KeyEncryption } from './keys/key-encryption.ts';
import type { KeyRing } from './keys/key-ring.ts';
import type { Storage } from './storage/storage.ts';
import type { MailOutbox } from './mail/outbox.ts';
import type { BackchannelLogoutOutbox } from './logout/backchannel-outbox.ts';
import type { Theme } from './ui/theme.ts';
import type { Languages } from './i18n/languages.ts';
import type { ServerMetrics } from './observability/metrics.ts';
import type { Tracing } from './observability/tracing.ts';

/** What endpoints, grants and admin commands need: settings, storage and keys. No HTTP in here. */
export interface ServerContext {
  settings: Settings;
  storage: Storage;
  keys: KeyRing;
  /** Encrypts secrets kept in the database (keys/key-encryption.ts): signing keys, users' TOTP secrets. */
  encryption: KeyEncryption;
  logger: Logger;
  /**
   * HMAC key for what the server proves to itself without storing it, derived from LATCHKEY_SECRET
   * (ui/csrf.ts): CSRF tokens and login proofs of the forms, device cookies, refresh-token family
   * tags. Each use puts its own label in front of what it signs.
   */
  macKey: Buffer;
  /** The issuer's URLs: its path prefix, whether it is https, each endpoint's URL. */
  urls: IssuerUrls;
  /** The operator's look (ui/theme.ts): product name, colour, stylesheet, logo. */
  theme: Theme;
  /** The languages of pages and mail (i18n/languages.ts), with the operator's catalogs. */
  languages: Languages;
  /** Outgoing mail (mail/outbox.ts): `enabled` when LATCHKEY_SMTP_URL is set. */
  mail: MailOutbox;
  /** Back-channel logout delivery (logout/backchannel-outbox.ts): queued when sessions end (logout/end-sessions.ts). */
  backchannelLogout: BackchannelLogoutOutbox;
  /** Now, in whole seconds since the epoch: the one clock of the server (lib/clock.ts). */
  now(): number;
  /** This server's Prometheus metrics (observability/metrics.ts), served when LATCHKEY_METRICS_* say so. */
  metrics: ServerMetrics;
  /** OpenTelemetry tracing (observability/tracing.ts), when LATCHKEY_OTLP_ENDPOINT is set and the server serves. */
  tracing?: Tracing;
}
