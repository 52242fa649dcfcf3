/**
 * Every option of the gateway's configuration file, with its default, in one place. README's
 * configuration reference is checked against these lists by a test (test/readme.test.ts).
 */

/** The gateway's own endpoints: they take precedence over every route, and no prefix may take them. */
export const OWN_PATHS = {
  health: '/healthz',
  metrics: '/metrics',
  jwks: '/.well-known/jwks.json',
  /** RFC 9728 §3: each route's metadata is here, followed by the route's prefix (with resourceMetadata). */
  resourceMetadata: '/.well-known/oauth-protected-resource',
} as const;

/** JWS algorithms the gateway can sign its own JWTs with (claims mode). */
export const SIGNING_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** How a route hands the caller's identity to its upstream. */
export const FORWARD_MODES = ['claims', 'exchange', 'passthrough'] as const;
export type ForwardMode = (typeof FORWARD_MODES)[number];

/** How a route checks the caller's access token. */
export const VALIDATION_MODES = ['jwt', 'introspection'] as const;
export type ValidationMode = (typeof VALIDATION_MODES)[number];

/** HTTPS on the gateway's listener. */
export interface ListenTls {
  /** The server's certificate chain (PEM file). */
  certFile: string;
  /** Its private key (PEM file). */
  keyFile: string;
  /**
   * CA certificates (PEM file) named to clients as the authorities whose client certificates are
   * welcome. Clients may present any certificate (self-signed ones too, RFC 8705 §2.2): a
   * certificate-bound token is checked against the certificate's hash, not its issuer.
   */
  clientCaFile: string | undefined;
}

/** A token bucket: `requestsPerSecond` refill, at most `burst` requests at once. */
export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

/** The configuration, checked and completed with its defaults. */
export interface GatewayConfig {
  /**
   * Where the gateway listens: plain HTTP, or HTTPS with `tls` (client certificates requested, for
   * certificate-bound tokens, RFC 8705). Changed only by a restart.
   */
  listen: { host: string; port: number; tls?: ListenTls };
  /** The Latchkey issuer identifier, exactly as in its metadata and in the tokens' `iss`. Required. */
  issuer: string;
  /** The gateway's own external URL: the `iss` of the JWTs it signs. Required when a route uses claims mode. */
  publicUrl: string | undefined;
  /** Accept an `http:` issuer on a host other than localhost, 127.0.0.1 or [::1]. Never in production. */
  allowInsecureIssuer: boolean;
  /** JWS algorithms accepted on access tokens (never taken from the token). */
  algorithms: string[];
  /** Leeway for `exp` and `nbf` of access tokens, in seconds. */
  clockToleranceSeconds: number;
  /** How long the issuer's JWKS is used before it is fetched again, in seconds. */
  jwksCacheSeconds: number;
  /** An unknown `kid` refreshes the JWKS at most once per this many seconds (at least 1). */
  jwksCooldownSeconds: number;
  /** Time limit of each request to the issuer (metadata, JWKS, introspection, token exchange), in seconds. */
  issuerTimeoutSeconds: number;
  /** How long an active introspection result is reused, in seconds (never past the token's `exp`). */
  introspectionCacheSeconds: number;
  /** The gateway's own client at the issuer, for introspection and token exchange. */
  client: { clientId: string; clientSecret: string } | undefined;
  /** The `realm` of the `WWW-Authenticate` challenges (RFC 6750 §3). */
  realm: string;
  /** Request headers starting with this are removed from every request and set only by the gateway. */
  identityHeaderPrefix: string;
  /** Peers (addresses or CIDR ranges) whose `Forwarded` and `X-Forwarded-*` headers are kept. */
  trustedProxies: string[];
  /** The gateway's signing key (claims mode). */
  signing: {
    /** A private JWK (JSON) or PKCS#8 PEM file; unset: a key generated at start. */
    keyFile: string | undefined;
    algorithm: SigningAlgorithm;
    /** Lifetime of each gateway JWT, in seconds. */
    tokenTtlSeconds: number;
  };
  /** Per-client rate limit (token bucket per `client_id`); undefined: none. */
  rateLimit: (RateLimit & { clients: Record<string, RateLimit> }) | undefined;
  /** Time limit for an upstream's response headers, in seconds. */
  upstreamTimeoutSeconds: number;
  /** Time a client has to send a request's line and headers, in seconds; then 408 and the connection closes. */
  headersTimeoutSeconds: number;
  /** Time a client has to send a whole request, body included (it streams to the upstream), in seconds; then 408. */
  requestTimeoutSeconds: number;
  /** How long an idle keep-alive connection from a client stays open, in seconds. */
  keepAliveTimeoutSeconds: number;
  /** Serve Prometheus metrics at `/metrics`. */
  metrics: boolean;
  /**
   * Serve each route's protected resource metadata (RFC 9728) and name it in the route's challenges
   * (`resource_metadata`, with the `scope` the method needs). Needs `publicUrl`.
   */
  resourceMetadata: boolean;
  routes: RouteConfig[];
}

export interface RouteConfig {
  /** The route's name in logs and metrics (default: its prefix). */
  name: string;
  /** Path prefix, matched on whole segments (`/orders` matches `/orders` and `/orders/1`, not `/ordersx`). */
  prefix: string;
  /** The upstream's base URL (http or https, optionally with a base path). */
  upstream: string;
  /** The audience the caller's token must carry (the API's resource identifier at Latchkey). */
  audience: string;
  validation: ValidationMode;
  /** Allowed methods, each with the scopes it requires (an empty list: any valid token). */
  methods: Record<string, string[]>;
  /** Remove the prefix from the path before forwarding. */
  stripPrefix: boolean;
  /** Forward the client's `Host` header instead of the upstream's host. */
  preserveHost: boolean;
  /**
   * DPoP at the edge (RFC 9449): `allowed`, Bearer and DPoP; `required`, DPoP only; `disabled`, Bearer
   * only. DPoP-bound tokens are never accepted as Bearer.
   */
  dpop: DpopMode;
  forward: ForwardConfig;
}

/** How a route takes DPoP-bound tokens (RFC 9449). */
export const DPOP_MODES = ['allowed', 'required', 'disabled'] as const;
export type DpopMode = (typeof DPOP_MODES)[number];

export type ForwardConfig =
  /** Verified claims as headers plus a JWT signed by the gateway, whose `aud` is `audience`. */
  | { mode: 'claims'; audience: string }
  /** A token obtained by RFC 8693 token exchange for `audience` (and `scopes`, if set). */
  | { mode: 'exchange'; audience: string; scopes: string[] | undefined }
  /** The caller's own token, unchanged (with its scheme); `dpopProof`: its DPoP proof too. */
  | { mode: 'passthrough'; dpopProof: boolean };

export const GATEWAY_DEFAULTS = {
  listen: { host: '127.0.0.1', port: 8080 },
  allowInsecureIssuer: false,
  algorithms: ['ES256'],
  clockToleranceSeconds: 5,
  jwksCacheSeconds: 300, // 5 minutes, the max-age of Latchkey's JWKS
  jwksCooldownSeconds: 30,
  issuerTimeoutSeconds: 5,
  introspectionCacheSeconds: 10,
  realm: 'gateway',
  identityHeaderPrefix: 'X-Auth-',
  trustedProxies: [],
  signing: { algorithm: 'ES256', tokenTtlSeconds: 60 },
  upstreamTimeoutSeconds: 30,
  headersTimeoutSeconds: 10,
  requestTimeoutSeconds: 60,
  keepAliveTimeoutSeconds: 72,
  metrics: true,
  resourceMetadata: false,
} as const;

export const ROUTE_DEFAULTS = {
  validation: 'jwt',
  stripPrefix: false,
  preserveHost: false,
  dpop: 'allowed',
  forward: { mode: 'claims', dpopProof: false },
} as const;

/** The top-level options, route options and forward options the file may contain (others are refused). */
export const TOP_LEVEL_OPTIONS = [
  'listen', 'issuer', 'publicUrl', 'allowInsecureIssuer', 'algorithms', 'clockToleranceSeconds', 'jwksCacheSeconds',
  'jwksCooldownSeconds', 'issuerTimeoutSeconds', 'introspectionCacheSeconds', 'client', 'realm', 'identityHeaderPrefix',
  'trustedProxies', 'signing', 'rateLimit', 'upstreamTimeoutSeconds', 'headersTimeoutSeconds', 'requestTimeoutSeconds',
  'keepAliveTimeoutSeconds', 'metrics', 'resourceMetadata', 'routes',
] as const;
export const ROUTE_OPTIONS = ['name', 'prefix', 'upstream', 'audience', 'validation', 'methods', 'stripPrefix', 'preserveHost', 'dpop', 'forward'] as const;
export const FORWARD_OPTIONS = ['mode', 'audience', 'scopes', 'dpopProof'] as const;
export const CLIENT_OPTIONS = ['clientId', 'clientSecret', 'clientSecretEnv'] as const;
export const SIGNING_OPTIONS = ['keyFile', 'algorithm', 'tokenTtlSeconds'] as const;
export const LISTEN_OPTIONS = ['host', 'port', 'tls'] as const;
export const TLS_OPTIONS = ['certFile', 'keyFile', 'clientCaFile'] as const;
export const RATE_LIMIT_OPTIONS = ['requestsPerSecond', 'burst', 'clients'] as const;
