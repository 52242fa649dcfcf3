
/**
 * Row types as the database holds them. Timestamps are whole seconds since the epoch; PostgreSQL
 * returns BIGINT as a string, so repositories convert with `Number()` at the edge. Lists are JSON text.
 */
export interface Database {
  resources: ResourceRow;
  resource_scopes: ResourceScopeRow;
  clients: ClientRow;
  client_scopes: ClientScopeRow;
  client_audiences: ClientAudienceRow;
  signing_keys: SigningKeyRow;
  revoked_access_tokens: RevokedAccessTokenRow;
  server_facts: ServerFactRow;
  deleted_client_ids: DeletedClientIdRow;
  opaque_access_tokens: OpaqueAccessTokenRow;
  users: UserRow;
  grants: GrantRow;
  authorization_codes: AuthorizationCodeRow;
  rate_limits: RateLimitRow;
  login_throttles: LoginThrottleRow;
  sessions: SessionRow;
  consents: ConsentRow;
  refresh_tokens: RefreshTokenRow;
  grant_access_tokens: GrantAccessTokenRow;
  client_resource_servers: ClientResourceServerRow;
  replay_cache: ReplayCacheRow;
  token_exchange_policies: TokenExchangePolicyRow;
  device_codes: DeviceCodeRow;
  client_registrations: ClientRegistrationRow;
  initial_access_tokens: InitialAccessTokenRow;
  client_metadata_documents: ClientMetadataDocumentRow;
  pushed_authorization_requests: PushedAuthorizationRequestRow;
  totp_factors: TotpFactorRow;
  recovery_codes: RecoveryCodeRow;
  passkeys: PasskeyRow;
  email_links: EmailLinkRow;
  mail_outbox: MailOutboxRow;
  invitations: InvitationRow;
  upstream_providers: UpstreamProviderRow;
  user_links: UserLinkRow;
  locks: LockRow;
  backchannel_logouts: BackchannelLogoutRow;
}

/** A logout token to deliver to a client (logout/backchannel-outbox.ts); the token is signed at each attempt. */
export interface BackchannelLogoutRow {
  id: string;
  client_id: string;
  /** The user's `sub`. */
  subject: string;
  /** The ended session's `sid`; null: every session of the user. */
  sid: string | null;
  attempts: number | string;
  next_attempt_at: number | string;
  locked_until: number | string;
  created_at: number | string;
  last_error: string | null;
}

/** A named lease (storage/lock-store.ts): the node holding it performs the task it names. */
export interface LockRow {
  name: string;
  /** The holder's random id, chosen per process. */
  holder: string;
  acquired_at: number | string;
  expires_at: number | string;
}

/** An upstream OpenID provider (federation/providers.ts). */
export interface UpstreamProviderRow {
  id: string;
  issuer: string;
  client_id: string;
  /** Encrypted (keys/key-encryption.ts); null: a public client (PKCE only). */
  client_secret_enc: string | null;
  /** Latchkey's private JWK for `private_key_jwt` at this provider, encrypted; null: a secret or none. */
  private_jwk_enc: string | null;
  scopes: string;
  display_name: string;
  link_by_email: number | string;
  /** 0: link only (a first sign-in without a matching local user is refused). */
  create_users: number | string;
  created_at: number | string;
}

/** A local user's link to an upstream account (federation/accounts.ts). */
export interface UserLinkRow {
  provider_id: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: number | string;
  last_used_at: number | string;
}

/** A link sent by mail (users/email-links.ts), by the SHA-256 of its token. */
export interface EmailLinkRow {
  token_hash: string;
  user_id: string;
  /** verify-email or reset-password. */
  purpose: string;
  /** The address the link was sent to (for verify-email: the address it verifies). */
  email: string;
  created_at: number | string;
  expires_at: number | string;
  used_at: number | string | null;
}

/** A message waiting to be sent, or sent (mail/outbox.ts). */
export interface MailOutboxRow {
  id: string;
  recipient: string;
  kind: string;
  /** Subject and bodies as JSON, encrypted (keys/key-encryption.ts); emptied once sent. */
  body_enc: string;
  attempts: number | string;
  next_attempt_at: number | string;
  locked_until: number | string;
  created_at: number | string;
  sent_at: number | string | null;
  failed_at: number | string | null;
  last_error: string | null;
}

/** A user's passkey (users/passkeys.ts): a WebAuthn credential and what its authenticator reported. */
export interface PasskeyRow {
  credential_id: string;
  user_id: string;
  name: string;
  /** The COSE public key, base64url. */
  public_key: string;
  counter: number | string;
  /** JSON array of AuthenticatorTransport values. */
  transports: string;
  /** singleDevice or multiDevice (synced). */
  device_type: string;
  backed_up: number | string;
  created_at: number | string;
  last_used_at: number | string | null;
  counter_regressed_at: number | string | null;
}

/** A recovery code (users/recovery-codes.ts), by its SHA-256; the code itself is never stored. */
export interface RecoveryCodeRow {
  code_hash: string;
  user_id: string;
  created_at: number | string;
  /** When it was used to sign in; null: still usable. */
  used_at: number | string | null;
}

/** A user's RFC 6238 authenticator (users/totp.ts). */
export interface TotpFactorRow {
  user_id: string;
  /** The secret, encrypted like the signing keys (keys/key-encryption.ts), bound to the user. */
  secret_enc: string;
  created_at: number | string;
  /** When the user confirmed it with a first code; null: set up but not in use yet. */
  confirmed_at: number | string | null;
  /** The RFC 6238 time step of the last code accepted; a code of that step or an earlier one is refused. */
  last_used_step: number | string | null;
}

/** A pushed authorization request (RFC 9126), until its request_uri is used once or expires. */
export interface PushedAuthorizationRequestRow {
  /** SHA-256 of the request_uri, base64url. */
  request_uri_hash: string;
  /** The client that pushed it: the only one that may use it (RFC 9126 §2.2). */
  client_id: string;
  /** JSON object: the authorization request's parameters (`resource` as a list). */
  params: string;
  created_at: number | string;
  expires_at: number | string;
}

/** The last good client ID metadata document fetched from a client_id URL (client-metadata/find-client.ts). */
export interface ClientMetadataDocumentRow {
  /** The client_id URL, also the `clients` row of the client. */
  client_id: string;
  /** JSON object: the document as fetched and parsed. */
  document: string;
  fetched_at: number | string;
  /** Until when it is used without being fetched again. */
  expires_at: number | string;
}

/** A client that registered itself (RFC 7591): what the registration endpoint keeps besides its client row. */
export interface ClientRegistrationRow {
  client_id: string;
  /** SHA-256 of the registration access token (RFC 7592 §3), base64url. */
  access_token_hash: string;
  /** JSON object: the metadata members only the registration endpoint reads back (display URLs, contacts, ...). */
  metadata: string;
  initial_access_token_id: string | null;
  created_at: number | string;
  /** When the client last obtained a token (within an hour); null: never. */
  last_used_at: number | string | null;
}

/** An operator's token that allows one or more registrations (RFC 7591 §3). */
export interface InitialAccessTokenRow {
  id: string;
  /** SHA-256 of the token, base64url. */
  token_hash: string;
  description: string;
  created_at: number | string;
  expires_at: number | string | null;
  /** Registrations it allows; null: unlimited. */
  max_uses: number | string | null;
  uses: number | string;
  last_used_at: number | string | null;
  revoked_at: number | string | null;
}

export interface DeviceCodeRow {
  device_code_hash: string;
  user_code_hash: string;
  client_id: string;
  scope: string;
  created_at: number | string;
  expires_at: number | string;
  interval_seconds: number | string;
  last_polled_at: number | string | null;
  status: string;
  user_id: string | null;
  auth_time: number | string | null;
  grant_id: string | null;
  /** RFC 8176 methods of the user's sign-in, space-separated (users/authentication-context.ts); null: a password (rows from before). */
  amr: string | null;
}

/** One scope a client may obtain for one API by token exchange (RFC 8693). */
export interface TokenExchangePolicyRow {
  client_id: string;
  resource_id: string;
  scope: string;
  created_at: number | string;
}

/** A single-use value (a client assertion's `jti`), by type, until its credential expires. */
export interface ReplayCacheRow {
  type: string;
  value: string;
  expires_at: number | string;
}

export interface ClientResourceServerRow {
  client_id: string;
  resource_id: string;
}

export interface ConsentRow {
  user_id: string;
  client_id: string;
  scope: string;
  created_at: number | string;
  updated_at: number | string;
}

export interface RefreshTokenRow {
  /** SHA-256 of the token, base64url. */
  token_hash: string;
  grant_id: string;
  scope: string;
  auth_time: number | string;
  created_at: number | string;
  expires_at: number | string;
  consumed_at: number | string | null;
  successor_enc: string | null;
  successor_hash: string | null;
  /** When a rotated, self-identifying token's row may be deleted (end of its grace window); else null. */
  forget_at: number | string | null;
  /** The key (or certificate) a public client's refresh token is bound to, as `cnf` JSON; null: unbound. */
  cnf: string | null;
  /** RFC 8176 methods of the user's sign-in, space-separated (users/authentication-context.ts); null: a password (rows from before). */
  amr: string | null;
}

export interface GrantAccessTokenRow {
  jti: string;
  grant_id: string;
  client_id: string;
  expires_at: number | string;
}

export interface SessionRow {
  id_hash: string;
  user_id: string;
  auth_time: number | string;
  /** The User-Agent of the browser that signed in (at most 300 characters); null in older rows. */
  user_agent: string | null;
  /** The client address that signed in; null in older rows. */
  address: string | null;
  /** RFC 8176 methods of the user's sign-in, space-separated (users/authentication-context.ts); null: a password (rows from before). */
  amr: string | null;
  created_at: number | string;
  last_seen_at: number | string;
  expires_at: number | string;
  /** Back-Channel Logout §2.1: the session's opaque identifier (random, not derived from the cookie). */
  sid: string | null;
}

export interface RateLimitRow {
  key: string;
  window_start: number | string;
  count: number | string;
}

/** Failed sign-ins per account (all addresses together): how many, and when the last one was. */
export interface LoginThrottleRow {
  key: string;
  failures: number | string;
  last_failure_at: number | string;
  /** No attempt from an unknown browser before this time. */
  blocked_until: number | string;
}

export interface GrantRow {
  id: string;
  client_id: string;
  user_id: string;
  scope: string;
  created_at: number | string;
  revoked_at: number | string | null;
  /** The `sid` of the SSO session the grant was made in (Back-Channel Logout §2.3); null: none. */
  sid: string | null;
}

export interface AuthorizationCodeRow {
  code_hash: string;
  grant_id: string;
  redirect_uri: string;
  code_challenge: string;
  nonce: string | null;
  auth_time: number | string;
  scope: string;
  /** JSON array of the resource indicators (RFC 8707) the authorization request named; null: none. */
  resources: string | null;
  created_at: number | string;
  expires_at: number | string;
  consumed_at: number | string | null;
  /** RFC 9449 §10: the `dpop_jkt` of the authorization request; null when it had none. */
  dpop_jkt: string | null;
  /** RFC 8176 methods of the user's sign-in, space-separated (users/authentication-context.ts); null: a password (rows from before). */
  amr: string | null;
}

export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  password_hash: string;
  disabled_at: number | string | null;
  created_at: number | string;
  password_changed_at: number | string;
  /** 1: the user must sign in with two factors (issue 15). */
  second_factor_required: number | string;
  /** 1: the user proved they receive mail at `email` (issue 16). */
  email_verified: number | string;
  /** 1: signed up, and cannot sign in before confirming the address (issue 16). */
  email_confirmation_required: number | string;
}

/** An invitation to sign up (users/signup.ts), by the SHA-256 of its token. */
export interface InvitationRow {
  token_hash: string;
  email: string;
  created_at: number | string;
  expires_at: number | string;
  used_at: number | string | null;
  user_id: string | null;
}

export interface OpaqueAccessTokenRow {
  /** SHA-256 of the token, base64url. */
  token_hash: string;
  jti: string;
  client_id: string;
  subject: string;
  /** JSON array of audiences. */
  audience: string;
  scope: string;
  issued_at: number | string;
  expires_at: number | string;
  /** RFC 8693 §4.1 `act` claim of an exchanged token, as JSON; null otherwise. */
  act: string | null;
  /** RFC 9449 §6 / RFC 8705 §3 confirmation (`cnf`) of a sender-constrained token, as JSON; null: bearer. */
  cnf: string | null;
  /** The user's `auth_time` (RFC 9470 §6.2); null for a token without a user sign-in behind it. */
  auth_time: number | string | null;
  /** RFC 8176 methods of the user's sign-in, space-separated (users/authentication-context.ts); null: a password (rows from before). */
  amr: string | null;
}

export interface DeletedClientIdRow {
  client_id: string;
  deleted_at: number | string;
}

export interface ServerFactRow {
  name: string;
  value: number | string;
  updated_at: number | string;
}

export interface ResourceRow {
  id: string;
  identifier: string;
  name: string;
  access_token_ttl_seconds: number | string | null;
  access_token_format: string;
  created_at: number | string;
}

export interface ResourceScopeRow {
  scope: string;
  resource_id: string;
  description: string;
  /** 1: requested when a request names the resource without a scope. */
  is_default: number | string;
  /** 1: self-registered clients may be granted it. */
  open_to_registered: number | string;
}

export interface ClientRow {
  client_id: string;
  name: string;
  type: string;
  token_endpoint_auth_method: string;
  /** SHA-256 of the secret, base64url; null for public clients. */
  secret_hash: string | null;
  /** JSON array of grant type names. */
  grant_types: string;
  created_at: number | string;
  secret_rotated_at: number | string | null;
  /** JSON arrays of exact URIs. */
  redirect_uris: string;
  post_logout_redirect_uris: string;
  /** JSON array of the built-in OpenID Connect scopes the client may ask for. */
  oidc_scopes: string;
  /** 1 for first-party clients (no consent page), else 0. */
  first_party: number | string;
  id_token_signed_response_alg: string;
  /** private_key_jwt: the client's public keys as JWKS JSON text, or the URL they are fetched from. */
  jwks: string | null;
  jwks_uri: string | null;
  /** Seconds of the refresh grace window for this client; null: the default for its type. */
  refresh_grace_seconds: number | string | null;
  /** operator, dynamic-registration or metadata-document (registry/types.ts ClientSource). */
  source: string;
  /** RFC 9449 §5.2: 1 when every token request of the client must carry a DPoP proof. */
  dpop_bound_access_tokens: number | string;
  /** RFC 8705 §2.1.2: the certificate subject a tls_client_auth client registered, as JSON; else null. */
  tls_client_auth: string | null;
  /** RFC 8705 §3.4: 1 when the client's access tokens are bound to its certificate. */
  tls_client_certificate_bound_access_tokens: number | string;
  /** RFC 9126 §6: 1 when the client may start authorization requests only by pushing them. */
  require_pushed_authorization_requests: number | string;
  /** 1: the client's users must sign in with two factors (issue 15). */
  require_second_factor: number | string;
  /** 1: the client's users must sign in with a passkey (issue 15). */
  require_passkey: number | string;
  /** default or fapi2 (registry/types.ts ClientProfile). */
  profile: string;
  /** Back-Channel Logout §2.2: where logout tokens are posted; null: none. */
  backchannel_logout_uri: string | null;
  /** Back-Channel Logout §2.2: 1 when the client needs `sid` in its logout tokens. */
  backchannel_logout_session_required: number | string;
}

export interface ClientScopeRow {
  client_id: string;
  scope: string;
}

export interface ClientAudienceRow {
  client_id: string;
  resource_id: string;
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  /** Public JWK as JSON text. */
  public_jwk: string;
  /** PKCS#8 private key, AES-256-GCM encrypted (keys/key-encryption.ts). */
  private_key_enc: string;
  created_at: number | string;
  /** When the key starts signing; keys are published ahead of it. */
  activates_at: number | string;
  /** When the next key takes over signing (may be in the future); null for the newest key. */
  retired_at: number | string | null;
  /** When the key leaves the JWKS: after every token it signed has expired. */
  expires_at: number | string | null;
}

export interface RevokedAccessTokenRow {
  jti: string;
  client_id: string;
  /** The token's own `exp`: the row can be purged after it. */
  expires_at: number | string;
  revoked_at: number | string;
}
