/**
 * Every server option, its environment variable, its config-file key and its default, in one place.
 * README's configuration table is checked against this list by a test (test/config.test.ts).
 */
export interface Settings {
  /** TCP port the HTTP server listens on. */
  port: number;
  /** Interface the HTTP server binds to. `0.0.0.0` to accept connections from other hosts. */
  host: string;
  /** Issuer identifier (RFC 8414 §2): the exact `iss` of every token; https unless loopback. */
  issuer: string;
  /** Directory for the SQLite database and the generated key-encryption secret. */
  dataDir: string;
  /** PostgreSQL connection string; unset means SQLite in `dataDir`. */
  databaseUrl: string | undefined;
  /** Secret that encrypts signing keys at rest; generated into `dataDir` (with a warning) when unset. */
  secret: string | undefined;
  /** Allow an `http:` issuer on a host other than localhost/127.0.0.1/[::1]. Never in production. */
  allowInsecureIssuer: boolean;
  /** Let private_key_jwt clients' jwks_uri reach loopback addresses, over http too. Development only. */
  allowLoopbackJwksUri: boolean;
  /** Lifetime of access tokens, in seconds (RFC 9068 tokens; 5-15 minutes is usual). */
  accessTokenTtlSeconds: number;
  /** Absolute lifetime of a refresh-token family, in seconds: rotation never extends it. */
  refreshTokenTtlSeconds: number;
  /** How long after a rotation a retry with the old refresh token gets the same new pair (0 = never). */
  refreshGraceSeconds: number;
  /** Lifetime of ID tokens, in seconds. */
  idTokenTtlSeconds: number;
  /** How long a node keeps its copy of the signing keys before reading them again from the database. */
  keyCacheSeconds: number;
  /** How long `keys rotate` publishes a new key in the JWKS before it starts signing. */
  keyPrepublishSeconds: number;
  /** Largest request body accepted, in bytes; larger bodies get 413 `invalid_request`. */
  bodyLimitBytes: number;
  /** Time a client has to send a request's line and headers, in seconds; then 408 and the connection closes. */
  headersTimeoutSeconds: number;
  /** Time a client has to send a request's body once its headers have arrived, in seconds; then 408. */
  bodyTimeoutSeconds: number;
  /** Time a client has to send a whole request (headers and body), in seconds; then 408. */
  requestTimeoutSeconds: number;
  /** How long an idle keep-alive connection stays open between requests, in seconds. */
  keepAliveTimeoutSeconds: number;
  /**
   * Longest wait for the database, in seconds: for a pooled connection and for one statement. Past
   * it the request is answered 503 with `Retry-After`, so an unreachable database never hangs requests.
   */
  databaseTimeoutSeconds: number;
  /** Interval of the janitor that purges expired revocations and retired keys, in seconds (0 = off). */
  janitorIntervalSeconds: number;
  /** Trust `X-Forwarded-*` headers from a reverse proxy in front of the server. */
  trustProxy: boolean;
  /**
   * The reverse proxies whose `X-Forwarded-*` headers are believed: comma-separated addresses or
   * CIDR ranges (or `loopback`, `linklocal`, `uniquelocal`), or a number of hops. Takes precedence
   * over `trustProxy`, which believes every hop.
   */
  trustedProxies: string | undefined;
  /** pino log level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: string;
  /**
   * Dynamic client registration (RFC 7591) at `{issuer}/register`: `off`, `initial-access-token`
   * (a token minted by `latchkey registration tokens create` is required) or `open` (anyone).
   */
  registration: RegistrationPolicy;
  /** Registration requests accepted per client address per hour (RFC 7591 §5 abuse limit). */
  registrationRateLimitPerHour: number;
  /** A registered client that never obtained a token is deleted this many seconds after registering (0 = kept). */
  registrationUnusedTtlSeconds: number;
  /** Let self-registered confidential clients use the client_credentials grant (tokens with no user behind them). */
  registrationAllowClientCredentials: boolean;
  /**
   * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): an https `client_id`
   * is fetched and used as the client's registration. `off`, `allowlist` (hosts in
   * `clientMetadataHosts` only) or `all` (any public host, through the SSRF guard).
   */
  clientMetadataDocuments: ClientMetadataPolicy;
  /** With `allowlist`: the host names whose documents are used, comma-separated. */
  clientMetadataHosts: string | undefined;
  /** Let client_id URLs reach loopback addresses, over http too. Development only. */
  allowLoopbackClientMetadata: boolean;
  /**
   * A PEM file of certificate authorities trusted, besides the public ones, when the server fetches a
   * URL a client gave it (jwks_uri, client ID metadata documents): for clients behind a private PKI.
   */
  outboundCaFile: string | undefined;
  /** Shortest time a fetched metadata document is used before it is fetched again, whatever its headers say. */
  clientMetadataCacheMinSeconds: number;
  /** Longest time a fetched metadata document is used before it is fetched again, whatever its headers say. */
  clientMetadataCacheMaxSeconds: number;
  /**
   * RFC 9449 §8: DPoP proofs at the token endpoint (and userinfo) must carry a nonce the server
   * issued (`DPoP-Nonce`), which limits pre-generated proofs to the nonce's life (one to two minutes).
   */
  dpopNonce: boolean;
  /** How long after its `iat` a DPoP proof is accepted, in seconds (RFC 9449 §4.3 item 11). */
  dpopProofMaxAgeSeconds: number;
  /**
   * RFC 8705: port of a second, https listener that asks clients for a certificate (mutual TLS);
   * 0 = none. It serves the same endpoints, announced as `mtls_endpoint_aliases`.
   */
  mtlsPort: number;
  /** PEM certificate (chain) of the mutual-TLS listener. */
  mtlsCertFile: string | undefined;
  /** PEM private key of the mutual-TLS listener. */
  mtlsKeyFile: string | undefined;
  /** PEM file of the certificate authorities that issue `tls_client_auth` clients' certificates (RFC 8705 §2.1). */
  mtlsClientCaFile: string | undefined;
  /**
   * The public base URL of the mutual-TLS endpoints (`mtls_endpoint_aliases`, RFC 8705 §5): the
   * listener's, or a TLS-terminating proxy's that forwards the certificate in `Client-Cert` (RFC 9440).
   */
  mtlsUrl: string | undefined;
  /** Lifetime of a pushed authorization request's `request_uri` (RFC 9126 §2.2), in seconds (5-600). */
  parTtlSeconds: number;
  /**
   * RFC 9126 §5 `require_pushed_authorization_requests`: every client must push its authorization
   * requests; /authorize takes only a `request_uri` from the pushed authorization request endpoint.
   */
  requirePar: boolean;
  /**
   * Every user signs in with two factors (issue 15): a user without an authenticator app sets one up
   * at the next sign-in (docs/account.md).
   */
  requireSecondFactor: boolean;
  /**
   * Every user signs in with a passkey (issue 15): phishing-resistant sign-in, acr `phr`; a user
   * without one adds one at the next sign-in (docs/account.md).
   */
  requirePasskey: boolean;
  /**
   * W3C WebAuthn §5.8.6: whether a passkey used as the second factor after a password must verify the
   * user (PIN, biometrics). A passkey that signs in alone always must.
   */
  passkeyRequireUserVerification: boolean;
  /**
   * Outgoing mail (issue 16): an SMTP URL for nodemailer (`smtp://user:pass@host:587` upgrades with
   * STARTTLS when offered, `smtps://host:465` is TLS from the start). Unset: no mail is sent, and the
   * features that need it (password reset, email verification) are not offered.
   */
  smtpUrl: string | undefined;
  /** The From of Latchkey's mail: an address, or `Name <address>`. */
  mailFrom: string;
  /** Refuse to send over a connection that did not become TLS (STARTTLS required). */
  smtpRequireTls: boolean;
  /**
   * Who may create an account at `/signup` (issue 16): `off`, `invite` (single-use invitations from
   * `users invite`), or `open` (anyone, when their address is confirmed; `signupEmailDomains` narrows it).
   */
  signup: SignupPolicy;
  /** With open sign-up: the only email domains allowed (comma-separated, e.g. `example.com,example.org`); empty: any. */
  signupEmailDomains: string;
  /** Sign-ups from one address per hour. */
  signupRateLimitPerHour: number;
  /** Upstream OpenID providers may be on loopback, over http: development and tests only. */
  allowLoopbackUpstream: boolean;
  /** The product name on every page and in mail (issue 16): the operator's, or Latchkey. */
  productName: string;
  /** The pages' main colour (buttons, links), a CSS hex colour such as `#0a7d5a`; unset: Latchkey's blue. */
  themeColor: string | undefined;
  /**
   * A directory with the operator's look: `theme.css` (loaded after Latchkey's stylesheet) and `logo.svg`
   * or `logo.png` (shown instead of the product name's text). Served from the issuer's own origin, so the
   * pages' CSP stays as strict.
   */
  themeDir: string | undefined;
  /**
   * The language of pages and mail for a user who asks for none Latchkey has (docs/languages.md): a
   * built-in language (`en`, `de`) or one added in LATCHKEY_THEME_DIR/messages.
   */
  defaultLocale: string;
  /**
   * Days a signing key is the newest of its algorithm before the server publishes its successor on its
   * own (keys/rotation-schedule.ts), with the usual pre-publication; 0 = never (rotate by hand).
   */
  keyRotationDays: number;
  /**
   * Clients' `backchannel_logout_uri` may point at loopback addresses, over http too (Back-Channel
   * Logout, logout/backchannel-outbox.ts): development and tests only.
   */
  allowLoopbackBackchannelLogout: boolean;
  /**
   * Port of a listener of its own (on HOST) serving only Prometheus metrics at /metrics; 0 = none
   * (observability/metrics-endpoint.ts).
   */
  metricsPort: number;
  /**
   * Bearer token /metrics asks for. Without LATCHKEY_METRICS_PORT, setting it serves /metrics on the
   * public port, to holders of this token only.
   */
  metricsToken: string | undefined;
  /** Base URL of an OTLP/HTTP collector receiving traces at `/v1/traces`; unset: no tracing (observability/tracing.ts). */
  otlpEndpoint: string | undefined;
  /** The `service.name` of the exported traces. */
  otlpServiceName: string;
}

/** Who may create an account (users/signup.ts). */
export type SignupPolicy = 'off' | 'invite' | 'open';
export const SIGNUP_POLICIES: readonly SignupPolicy[] = ['off', 'invite', 'open'];

/** Who may register a client at the registration endpoint (registration/register.ts). */
export type RegistrationPolicy = 'off' | 'initial-access-token' | 'open';

export const REGISTRATION_POLICIES: readonly RegistrationPolicy[] = ['off', 'initial-access-token', 'open'];

/** Which client ID metadata documents are used (client-metadata/find-client.ts). */
export type ClientMetadataPolicy = 'off' | 'allowlist' | 'all';

export const CLIENT_METADATA_POLICIES: readonly ClientMetadataPolicy[] = ['off', 'allowlist', 'all'];

export interface OptionSpec {
  key: keyof Settings;
  env: string;
  type: 'string' | 'integer' | 'boolean' | 'optional-string';
  /** Default as documented; `undefined` for options that are unset by default. */
  default: string | number | boolean | undefined;
}

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'port', env: 'PORT', type: 'integer', default: 9000 },
  { key: 'host', env: 'HOST', type: 'string', default: '127.0.0.1' },
  { key: 'issuer', env: 'LATCHKEY_ISSUER', type: 'string', default: 'http://localhost:9000' },
  { key: 'dataDir', env: 'LATCHKEY_DATA_DIR', type: 'string', default: './data' },
  { key: 'databaseUrl', env: 'DATABASE_URL', type: 'optional-string', default: undefined },
  { key: 'secret', env: 'LATCHKEY_SECRET', type: 'optional-string', default: undefined },
  { key: 'allowInsecureIssuer', env: 'LATCHKEY_ALLOW_INSECURE_ISSUER', type: 'boolean', default: false },
  { key: 'allowLoopbackJwksUri', env: 'LATCHKEY_ALLOW_LOOPBACK_JWKS_URI', type: 'boolean', default: false },
  { key: 'accessTokenTtlSeconds', env: 'LATCHKEY_ACCESS_TOKEN_TTL_SECONDS', type: 'integer', default: 600 },
  { key: 'refreshTokenTtlSeconds', env: 'LATCHKEY_REFRESH_TOKEN_TTL_SECONDS', type: 'integer', default: 30 * 24 * 3600 },
  { key: 'refreshGraceSeconds', env: 'LATCHKEY_REFRESH_GRACE_SECONDS', type: 'integer', default: 5 },
  { key: 'idTokenTtlSeconds', env: 'LATCHKEY_ID_TOKEN_TTL_SECONDS', type: 'integer', default: 3600 },
  { key: 'keyCacheSeconds', env: 'LATCHKEY_KEY_CACHE_SECONDS', type: 'integer', default: 5 },
  { key: 'keyPrepublishSeconds', env: 'LATCHKEY_KEY_PREPUBLISH_SECONDS', type: 'integer', default: 600 },
  { key: 'bodyLimitBytes', env: 'LATCHKEY_BODY_LIMIT_BYTES', type: 'integer', default: 64 * 1024 },
  { key: 'headersTimeoutSeconds', env: 'LATCHKEY_HEADERS_TIMEOUT_SECONDS', type: 'integer', default: 10 },
  { key: 'bodyTimeoutSeconds', env: 'LATCHKEY_BODY_TIMEOUT_SECONDS', type: 'integer', default: 10 },
  { key: 'requestTimeoutSeconds', env: 'LATCHKEY_REQUEST_TIMEOUT_SECONDS', type: 'integer', default: 30 },
  { key: 'keepAliveTimeoutSeconds', env: 'LATCHKEY_KEEP_ALIVE_TIMEOUT_SECONDS', type: 'integer', default: 72 },
  { key: 'databaseTimeoutSeconds', env: 'LATCHKEY_DATABASE_TIMEOUT_SECONDS', type: 'integer', default: 3 },
  { key: 'janitorIntervalSeconds', env: 'LATCHKEY_JANITOR_INTERVAL_SECONDS', type: 'integer', default: 300 },
  { key: 'trustProxy', env: 'LATCHKEY_TRUST_PROXY', type: 'boolean', default: false },
  { key: 'trustedProxies', env: 'LATCHKEY_TRUSTED_PROXIES', type: 'optional-string', default: undefined },
  { key: 'logLevel', env: 'LOG_LEVEL', type: 'string', default: 'info' },
  { key: 'registration', env: 'LATCHKEY_REGISTRATION', type: 'string', default: 'off' },
  { key: 'registrationRateLimitPerHour', env: 'LATCHKEY_REGISTRATION_RATE_LIMIT_PER_HOUR', type: 'integer', default: 20 },
  { key: 'registrationUnusedTtlSeconds', env: 'LATCHKEY_REGISTRATION_UNUSED_TTL_SECONDS', type: 'integer', default: 7 * 24 * 3600 },
  { key: 'registrationAllowClientCredentials', env: 'LATCHKEY_REGISTRATION_ALLOW_CLIENT_CREDENTIALS', type: 'boolean', default: false },
  { key: 'clientMetadataDocuments', env: 'LATCHKEY_CLIENT_METADATA_DOCUMENTS', type: 'string', default: 'all' },
  { key: 'clientMetadataHosts', env: 'LATCHKEY_CLIENT_METADATA_HOSTS', type: 'optional-string', default: undefined },
  { key: 'allowLoopbackClientMetadata', env: 'LATCHKEY_ALLOW_LOOPBACK_CLIENT_METADATA', type: 'boolean', default: false },
  { key: 'outboundCaFile', env: 'LATCHKEY_OUTBOUND_CA_FILE', type: 'optional-string', default: undefined },
  { key: 'clientMetadataCacheMinSeconds', env: 'LATCHKEY_CLIENT_METADATA_CACHE_MIN_SECONDS', type: 'integer', default: 60 },
  { key: 'clientMetadataCacheMaxSeconds', env: 'LATCHKEY_CLIENT_METADATA_CACHE_MAX_SECONDS', type: 'integer', default: 24 * 3600 },
  { key: 'dpopNonce', env: 'LATCHKEY_DPOP_NONCE', type: 'boolean', default: false },
  { key: 'dpopProofMaxAgeSeconds', env: 'LATCHKEY_DPOP_PROOF_MAX_AGE_SECONDS', type: 'integer', default: 300 },
  { key: 'mtlsPort', env: 'LATCHKEY_MTLS_PORT', type: 'integer', default: 0 },
  { key: 'mtlsCertFile', env: 'LATCHKEY_MTLS_CERT_FILE', type: 'optional-string', default: undefined },
  { key: 'mtlsKeyFile', env: 'LATCHKEY_MTLS_KEY_FILE', type: 'optional-string', default: undefined },
  { key: 'mtlsClientCaFile', env: 'LATCHKEY_MTLS_CLIENT_CA_FILE', type: 'optional-string', default: undefined },
  { key: 'mtlsUrl', env: 'LATCHKEY_MTLS_URL', type: 'optional-string', default: undefined },
  { key: 'parTtlSeconds', env: 'LATCHKEY_PAR_TTL_SECONDS', type: 'integer', default: 60 },
  { key: 'requirePar', env: 'LATCHKEY_REQUIRE_PAR', type: 'boolean', default: false },
  { key: 'requireSecondFactor', env: 'LATCHKEY_REQUIRE_SECOND_FACTOR', type: 'boolean', default: false },
  { key: 'requirePasskey', env: 'LATCHKEY_REQUIRE_PASSKEY', type: 'boolean', default: false },
  { key: 'passkeyRequireUserVerification', env: 'LATCHKEY_PASSKEY_REQUIRE_USER_VERIFICATION', type: 'boolean', default: true },
  { key: 'smtpUrl', env: 'LATCHKEY_SMTP_URL', type: 'optional-string', default: undefined },
  { key: 'mailFrom', env: 'LATCHKEY_MAIL_FROM', type: 'string', default: 'Latchkey <no-reply@localhost>' },
  { key: 'smtpRequireTls', env: 'LATCHKEY_SMTP_REQUIRE_TLS', type: 'boolean', default: false },
  { key: 'signup', env: 'LATCHKEY_SIGNUP', type: 'string', default: 'off' },
  { key: 'signupEmailDomains', env: 'LATCHKEY_SIGNUP_EMAIL_DOMAINS', type: 'string', default: '' },
  { key: 'signupRateLimitPerHour', env: 'LATCHKEY_SIGNUP_RATE_LIMIT_PER_HOUR', type: 'integer', default: 10 },
  { key: 'allowLoopbackUpstream', env: 'LATCHKEY_ALLOW_LOOPBACK_UPSTREAM', type: 'boolean', default: false },
  { key: 'productName', env: 'LATCHKEY_PRODUCT_NAME', type: 'string', default: 'Latchkey' },
  { key: 'themeColor', env: 'LATCHKEY_THEME_COLOR', type: 'optional-string', default: undefined },
  { key: 'themeDir', env: 'LATCHKEY_THEME_DIR', type: 'optional-string', default: undefined },
  { key: 'defaultLocale', env: 'LATCHKEY_DEFAULT_LOCALE', type: 'string', default: 'en' },
  { key: 'keyRotationDays', env: 'LATCHKEY_KEY_ROTATION_DAYS', type: 'integer', default: 90 },
  { key: 'allowLoopbackBackchannelLogout', env: 'LATCHKEY_ALLOW_LOOPBACK_BACKCHANNEL_LOGOUT', type: 'boolean', default: false },
  { key: 'metricsPort', env: 'LATCHKEY_METRICS_PORT', type: 'integer', default: 0 },
  { key: 'metricsToken', env: 'LATCHKEY_METRICS_TOKEN', type: 'optional-string', default: undefined },
  { key: 'otlpEndpoint', env: 'LATCHKEY_OTLP_ENDPOINT', type: 'optional-string', default: undefined },
  { key: 'otlpServiceName', env: 'LATCHKEY_OTLP_SERVICE_NAME', type: 'string', default: 'latchkey' },
];

/** Environment variable naming an optional JSON config file (same keys as `Settings`). */
export const CONFIG_FILE_ENV = 'LATCHKEY_CONFIG';

/** Lifetime of authorization codes (OAuth 2.1 §4.1.2: short; at most 10 minutes). */
export const AUTHORIZATION_CODE_TTL_SECONDS = 60;

/** Clock skew tolerated when checking our own tokens' `exp`/`iat`, in seconds. */
export const CLOCK_TOLERANCE_SECONDS = 5;
