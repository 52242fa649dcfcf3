/**
 * Every option of createValidator, createIntrospector, the middleware and protectedResourceMetadata,
 * with its default, in one place. README's configuration tables are checked against these lists by a
 * test (test/readme.test.ts).
 */
import { DPOP_DEFAULT_ALGORITHMS, type DpopNonceSource, type DpopReplayCheck } from './dpop.ts';

/** Options shared by the validator and the introspector. */
export interface IssuerOptions {
  /** The issuer identifier (RFC 8414 §2), compared exactly with the metadata's `issuer` and the token's `iss`. Required. */
  issuer: string;
  /** Accept an `http:` issuer on a host other than localhost, 127.0.0.1 or [::1]. Never in production. */
  allowInsecureIssuer?: boolean;
  /** Time limit of each request to the issuer (metadata, JWKS, introspection), in seconds. */
  httpTimeoutSeconds?: number;
  /** Largest token accepted, in characters, checked before anything is decoded or sent. */
  maxTokenLength?: number;
  /** The fetch used to reach the issuer (a proxy, a custom agent, a counting wrapper in tests). */
  fetch?: typeof globalThis.fetch;
}

export interface ValidatorOptions extends IssuerOptions {
  /** This resource's identifier: a token's `aud` must contain it (RFC 9068 §4). Required. */
  audience: string;
  /** JWS algorithms accepted (RFC 8725 §3.1), never taken from the token. `none` and HS* are refused. */
  algorithms?: string[];
  /** Leeway for `exp` and `nbf`, in seconds (at most 300). */
  clockToleranceSeconds?: number;
  /** Claims required on top of iss, sub, aud, exp, iat, jti and client_id, which are always required. */
  requiredClaims?: string[];
  /** How long the JWKS is used before it is fetched again, in seconds. */
  jwksCacheSeconds?: number;
  /** An unknown `kid` refreshes the JWKS at most once per this many seconds; a failed fetch is retried after it. */
  jwksCooldownSeconds?: number;
  /**
   * The `typ` a token must carry (RFC 8725 §3.11: explicit typing). `at+jwt` (RFC 9068) for Latchkey's
   * access tokens; `gateway+jwt` for the tokens latchkey-gateway forwards in claims mode.
   */
  tokenType?: string;
  /** Where the keys are, when the issuer publishes no metadata (latchkey-gateway); else from the metadata. */
  jwksUri?: string;
  /** Told after every fetch of the JWKS whether it succeeded (for metrics); errors it throws are ignored. */
  onJwksFetch?: (result: 'success' | 'failure') => void;
}

export interface IntrospectorOptions extends IssuerOptions {
  /** The client registered to introspect for this API (`--introspect-for`). Required. */
  clientId: string;
  /** Its secret, sent with HTTP Basic (RFC 6749 §2.3.1). Required. */
  clientSecret: string;
  /** If set, an active token's `aud` must contain it (for a client that introspects for several APIs). */
  audience?: string;
  /** How long an active result is reused, in seconds (never past the token's `exp`; 0: never). */
  cacheSeconds?: number;
  /** Told for every token whether the cache answered (`true`) or the issuer was asked (for metrics). */
  onCacheLookup?: (hit: boolean) => void;
}

export const ISSUER_DEFAULTS = {
  allowInsecureIssuer: false,
  httpTimeoutSeconds: 5,
  maxTokenLength: 8 * 1024, // 8 KiB
} as const;

export const VALIDATOR_DEFAULTS = {
  ...ISSUER_DEFAULTS,
  algorithms: ['ES256'],
  clockToleranceSeconds: 5,
  requiredClaims: [],
  jwksCacheSeconds: 300, // 5 minutes, the max-age Latchkey's JWKS endpoint sends
  jwksCooldownSeconds: 30,
  tokenType: 'at+jwt',
} as const;

export const INTROSPECTOR_DEFAULTS = {
  ...ISSUER_DEFAULTS,
  cacheSeconds: 10,
} as const;

/**
 * Which schemes a middleware takes (RFC 9449 §7): `allowed`, Bearer (RFC 6750) and DPoP; `required`,
 * DPoP only; `disabled`, Bearer only. A DPoP-bound token (`cnf.jkt`) is never accepted as Bearer
 * (§7.2), so under `disabled` bound tokens are refused.
 */
export type DpopMode = 'allowed' | 'required' | 'disabled';

/** How a middleware checks DPoP proofs (RFC 9449 §4.3, §7.1). */
export interface DpopOptions {
  /** Which schemes the middleware takes. */
  mode?: DpopMode;
  /**
   * This API's URL as its clients address it (scheme, host, port and an optional base path, which the
   * request's path follows): the `htu` a proof must carry. Unset: the request's protocol and `Host`, as
   * the framework reads them (Fastify's `trustProxy`, Express's `trust proxy`; the fetch Request's URL).
   */
  publicUrl?: string;
  /** The `alg` values accepted for proofs (asymmetric only), announced in the challenge's `algs`. */
  algorithms?: string[];
  /** How long after its `iat` a proof is accepted, in seconds. */
  maxAgeSeconds?: number;
  /** Allowed clock difference for a proof's `iat`, in seconds. */
  clockToleranceSeconds?: number;
  /**
   * Records each proof's `jti` once (RFC 9449 §11.1). Default: one per-process memory cache shared by
   * every middleware; several processes behind one name need a shared store.
   */
  replay?: DpopReplayCheck;
  /** Resource-server nonces (RFC 9449 §9, createDpopNonces): proofs must carry a current one. Default: none. */
  nonce?: DpopNonceSource;
}

export const DPOP_DEFAULTS = {
  mode: 'allowed',
  algorithms: [...DPOP_DEFAULT_ALGORITHMS],
  maxAgeSeconds: 300, // 5 minutes
  clockToleranceSeconds: 5,
} as const;

/** Options of the middleware (Fastify, Express, fetch). */
export interface BearerAuthOptions {
  /**
   * DPoP (RFC 9449): a mode (`'allowed'`, `'required'`, `'disabled'`), or the options of the proof
   * checks, `mode` among them.
   */
  dpop?: DpopMode | DpopOptions;
  /**
   * Fastify and Express: peers (IP addresses or CIDR ranges) whose RFC 9440 `Client-Cert` header is
   * believed, for certificate-bound tokens (RFC 8705 §3); from anyone else the header is ignored.
   */
  trustedProxies?: string[];
  /**
   * fetch only (it sees no connection): believe the RFC 9440 `Client-Cert` header of every request.
   * Only behind a proxy that terminates TLS, removes any `Client-Cert` a client sends and sets its own.
   */
  trustClientCertHeader?: boolean;
  /** The `realm` of the `WWW-Authenticate` challenge (RFC 6750 §3). */
  realm?: string;
  /**
   * RFC 9728 §5.1: the URL of this resource's metadata, named as `resource_metadata` in every challenge
   * (with the `scope` the route needs, where known); `true`: derived from the validator's audience by
   * resourceMetadataUrl; `false`: none.
   */
  resourceMetadata?: string | boolean;
}

export const BEARER_AUTH_DEFAULTS = {
  realm: 'api',
  resourceMetadata: false,
  trustedProxies: [],
  trustClientCertHeader: false,
} as const;

/** Options of protectedResourceMetadata and its handlers: the members of the RFC 9728 §2 document. */
export interface ProtectedResourceMetadataOptions {
  /** `resource`: this resource's identifier, the `aud` of its tokens (https, no fragment). Required. */
  resource: string;
  /** `authorization_servers`: the issuer identifiers of the authorization servers whose tokens it takes. */
  authorizationServers?: string[];
  /** `scopes_supported`: the scopes clients request for it. */
  scopesSupported?: string[];
  /** `bearer_methods_supported`: how it takes a bearer token, of `header`, `body` and `query` (RFC 6750 §2). */
  bearerMethodsSupported?: ('header' | 'body' | 'query')[];
  /** `resource_name`: a name for people. */
  resourceName?: string;
  /** `resource_documentation`: a page for developers. */
  resourceDocumentation?: string;
  /** `resource_policy_uri`: how the data it holds is used. */
  resourcePolicyUri?: string;
  /** `resource_tos_uri`: its terms of service. */
  resourceTosUri?: string;
  /** `jwks_uri`: the resource's own public keys (for signed responses, say); not the issuer's. */
  jwksUri?: string;
}

export const PROTECTED_RESOURCE_METADATA_DEFAULTS = {
  bearerMethodsSupported: ['header'],
} as const;
