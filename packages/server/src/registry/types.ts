import type { TlsClientAuthSubject } from '../mtls/subject.ts';
import type { JSONWebKeySet } from 'jose';

/**
 * Domain types: of the registry, and the plain values every layer passes around. Storage maps rows
 * to these at its edge; grant logic never sees rows.
 */

export type ClientType = 'confidential' | 'public';

export type TokenEndpointAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'
  | 'none';

export interface ScopeDefinition {
  scope: string;
  description: string;
  /**
   * Requested when an authorization request names this scope's resource and no scope (RFC 6749 §3.3:
   * "process the request using a pre-defined default value").
   */
  isDefault: boolean;
  /** Clients that registered themselves (RFC 7591, client ID metadata documents) may be granted it. */
  openToRegisteredClients: boolean;
}

/** How a client came to be known: typed in by an operator, registered by itself, or a metadata document. */
export type ClientSource = 'operator' | 'dynamic-registration' | 'metadata-document';

/** A protected API: its identifier is the `aud` of the tokens issued for it (RFC 8707, RFC 9068). */
export interface Resource {
  id: string;
  identifier: string;
  name: string;
  /** Overrides the server's access-token lifetime for this audience when set. */
  accessTokenTtlSeconds: number | null;
  /** JWT (RFC 9068, validated by the API itself) or opaque (validated by introspection). */
  accessTokenFormat: AccessTokenFormat;
  scopes: ScopeDefinition[];
  createdAt: number;
}

export type AccessTokenFormat = 'jwt' | 'opaque';

/** An audience a client may ask tokens for. */
export interface ClientAudience {
  identifier: string;
  accessTokenTtlSeconds: number | null;
  accessTokenFormat: AccessTokenFormat;
}

/** A scope a client may ask for, with the resource it belongs to. */
export interface ClientScope {
  scope: string;
  /** Identifier of the resource that registered the scope. */
  resource: string;
}

export interface Client {
  clientId: string;
  name: string;
  type: ClientType;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** SHA-256 of the client secret (base64url); null for public clients. */
  secretHash: string | null;
  grantTypes: string[];
  scopes: ClientScope[];
  audiences: ClientAudience[];
  createdAt: number;
  secretRotatedAt: number | null;
  /** Exact redirect URIs (registry/redirect-uri.ts). */
  redirectUris: string[];
  /** Where RP-initiated logout may send the browser back to. */
  postLogoutRedirectUris: string[];
  /** The built-in OpenID Connect scopes the client may ask for (`openid`, `profile`, ...). */
  oidcScopes: string[];
  /** The operator's own application: the user is not asked for consent. */
  firstParty: boolean;
  /**
   * Who registered the client. Anything but `operator` is an unverified application: never first-party,
   * only scopes open to registered clients, and the consent page says so.
   */
  source: ClientSource;
  /** OIDC Registration `id_token_signed_response_alg`: RS256 (default) or ES256. */
  idTokenSignedResponseAlg: IdTokenAlgorithm;
  /**
   * Identifiers of the APIs this client acts for (their resource server): it may introspect every
   * token issued for them (RFC 7662 §2.1), not only its own.
   */
  introspectsFor: string[];
  /** private_key_jwt (RFC 7523): the client's public keys, registered inline... */
  jwks: JSONWebKeySet | null;
  /** ...or fetched from this https URL (through the SSRF guard, client-auth/jwks-fetch.ts). */
  jwksUri: string | null;
  /**
   * Seconds after a refresh in which a retry with the rotated token gets the same new pair; null: the
   * default for the client's type (grants/refresh-grace.ts).
   */
  refreshGraceSeconds: number | null;
  /**
   * RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request of the client must carry a DPoP
   * proof, so all its access tokens are sender-constrained.
   */
  dpopBoundAccessTokens: boolean;
  /** RFC 8705 §2.1.2: the certificate subject of a `tls_client_auth` client; null for any other. */
  tlsClientAuth: TlsClientAuthSubject | null;
  /**
   * RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`: every token request must come with the
   * client's certificate, and its access tokens are bound to it (`cnf.x5t#S256`).
   */
  tlsClientCertificateBoundAccessTokens: boolean;
  /**
   * RFC 9126 §6 `require_pushed_authorization_requests`: the client may start an authorization request
   * only by pushing it (a request_uri from the pushed authorization request endpoint).
   */
  requirePushedAuthorizationRequests: boolean;
  /** The client's users must sign in with two factors (issue 15; users/second-factor-policy.ts). */
  requireSecondFactor?: boolean;
  /** The client's users must sign in with a passkey (acr `phr`; users/second-factor-policy.ts). */
  requirePasskey?: boolean;
  /** The rules the client is held to: `default`, or `fapi2` (FAPI 2.0 Security Profile, set by the operator only). */
  profile: ClientProfile;
  /** Back-Channel Logout §2.2 `backchannel_logout_uri`: where logout tokens are posted; null: none. */
  backchannelLogoutUri?: string | null;
  /** Back-Channel Logout §2.2 `backchannel_logout_session_required`: the client needs `sid` in them. */
  backchannelLogoutSessionRequired?: boolean;
}

export type IdTokenAlgorithm = 'RS256' | 'ES256';

/** A client's security profile: Latchkey's own rules, or the FAPI 2.0 Security Profile's (profiles/fapi2.ts). */
export type ClientProfile = 'default' | 'fapi2';

/**
 * What one client may obtain by token exchange (RFC 8693) for one API: tokens whose `aud` is that API,
 * with at most these scopes (docs/security.md H57: exchange is allowed only by an explicit per-client policy).
 */
export interface TokenExchangePolicy {
  /** The API's resource identifier: the `resource` or `audience` of the exchange request. */
  audience: string;
  scopes: string[];
  accessTokenFormat: AccessTokenFormat;
  accessTokenTtlSeconds: number | null;
}

/** RFC 8693 §4.1 `act`: the acting party; nested `act` members are the prior actors of a chain. */
export interface ActClaim {
  sub: string;
  act?: ActClaim;
}
