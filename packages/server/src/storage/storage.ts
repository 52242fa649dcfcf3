import { sql } from 'kysely';
import { ClientMetadataStore } from './client-metadata-store.ts';
import { ClientRegistrationStore } from './client-registration-store.ts';
import { ClientStore } from './client-store.ts';
import { ConsentStore } from './consent-store.ts';
import { DeviceCodeStore } from './device-code-store.ts';
import { migrate, openDatabase, type DatabaseSettings, type Db } from './database.ts';
import { unreachableDatabase } from './unavailable.ts';
import { GrantStore } from './grant-store.ts';
import { InitialAccessTokenStore } from './initial-access-token-store.ts';
import { OpaqueTokenStore } from './opaque-token-store.ts';
import { PushedRequestStore } from './pushed-request-store.ts';
import { PasskeyStore } from './passkey-store.ts';
import { EmailLinkStore } from './email-link-store.ts';
import { MailOutboxStore } from './mail-outbox-store.ts';
import { LoginThrottleStore } from './login-throttle-store.ts';
import { RateLimitStore } from './rate-limit-store.ts';
import { RefreshTokenStore } from './refresh-token-store.ts';
import { ReplayStore } from './replay-store.ts';
import { ResourceStore } from './resource-store.ts';
import { RevocationStore } from './revocation-store.ts';
import { ServerFactStore } from './server-fact-store.ts';
import { SessionStore } from './session-store.ts';
import { SigningKeyStore } from './signing-key-store.ts';
import { LockStore } from './lock-store.ts';
import { TokenExchangeStore } from './token-exchange-store.ts';
import { UserStore } from './user-store.ts';
import { TotpStore } from './totp-store.ts';
import { RecoveryCodeStore } from './recovery-code-store.ts';
import { BackchannelLogoutStore } from './backchannel-logout-store.ts';

/** Every store over one database connection. */
export class Storage {
  readonly resources: ResourceStore;
  readonly clients: ClientStore;
  readonly signingKeys: SigningKeyStore;
  readonly revocations: RevocationStore;
  readonly facts: ServerFactStore;
  readonly opaqueTokens: OpaqueTokenStore;
  readonly users: UserStore;
  readonly totp: TotpStore;
  readonly recoveryCodes: RecoveryCodeStore;
  readonly passkeys: PasskeyStore;
  readonly emailLinks: EmailLinkStore;
  readonly mailOutbox: MailOutboxStore;
  readonly grants: GrantStore;
  readonly rateLimits: RateLimitStore;
  readonly loginThrottles: LoginThrottleStore;
  readonly sessions: SessionStore;
  readonly consents: ConsentStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly replays: ReplayStore;
  readonly deviceCodes: DeviceCodeStore;
  readonly tokenExchange: TokenExchangeStore;
  readonly registrations: ClientRegistrationStore;
  readonly initialAccessTokens: InitialAccessTokenStore;
  readonly clientMetadata: ClientMetadataStore;
  readonly pushedRequests: PushedRequestStore;
  readonly backchannelLogouts: BackchannelLogoutStore;
  readonly locks: LockStore;

  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
    this.resources = new ResourceStore(db.kysely);
    this.clients = new ClientStore(db.kysely, db.sqlite);
    this.signingKeys = new SigningKeyStore(db.kysely, db.sqlite);
    this.revocations = new RevocationStore(db.kysely, db.sqlite);
    this.facts = new ServerFactStore(db.kysely);
    this.opaqueTokens = new OpaqueTokenStore(db.kysely, db.sqlite);
    this.users = new UserStore(db.kysely);
    this.totp = new TotpStore(db.kysely);
    this.recoveryCodes = new RecoveryCodeStore(db.kysely);
    this.passkeys = new PasskeyStore(db.kysely);
    this.emailLinks = new EmailLinkStore(db.kysely);
    this.mailOutbox = new MailOutboxStore(db.kysely);
    this.grants = new GrantStore(db.kysely, db.dialect);
    this.rateLimits = new RateLimitStore(db.kysely);
    this.loginThrottles = new LoginThrottleStore(db.kysely);
    this.sessions = new SessionStore(db.kysely);
    this.consents = new ConsentStore(db.kysely);
    this.refreshTokens = new RefreshTokenStore(db.kysely);
    this.replays = new ReplayStore(db.kysely);
    this.deviceCodes = new DeviceCodeStore(db.kysely);
    this.tokenExchange = new TokenExchangeStore(db.kysely);
    this.registrations = new ClientRegistrationStore(db.kysely);
    this.initialAccessTokens = new InitialAccessTokenStore(db.kysely);
    this.clientMetadata = new ClientMetadataStore(db.kysely);
    this.pushedRequests = new PushedRequestStore(db.kysely);
    this.backchannelLogouts = new BackchannelLogoutStore(db.kysely);
    this.locks = new LockStore(db.kysely);
  }

  /**
   * Opens the configured database and brings its schema up to date. Migrations run on a connection of
   * their own without the statement timeout (an index on a large table may take longer); requests get
   * one with it (`databaseTimeoutSeconds`).
   */
  static async open(settings: DatabaseSettings): Promise<Storage> {
    try {
      const migrations = await openDatabase({ ...settings, databaseTimeoutSeconds: undefined });
      try {
        await migrate(migrations);
      } finally {
        await migrations.close();
      }
      return new Storage(await openDatabase(settings));
    } catch (err) {
      throw unreachableDatabase(settings, err);
    }
  }

  /** Whether the database answers a trivial query within `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const query = sql`select 1`.execute(this.db.kysely).then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([query, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
