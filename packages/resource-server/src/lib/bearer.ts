import type { AccessTokenClaims } from '../claims.ts';
import { BEARER_AUTH_DEFAULTS, DPOP_DEFAULTS, VALIDATOR_DEFAULTS, type BearerAuthOptions } from '../defaults.ts';
import {
  ConfigurationError,
  InsufficientScopeError,
  InsufficientUserAuthenticationError,
  InvalidRequestError,
  JwksUnavailableError,
  MissingTokenError,
  ResourceServerError,
  TokenValidationError,
  UseDpopNonceError,
} from '../errors.ts';
import type { Introspector } from '../introspector.ts';
import { resourceMetadataUrl } from '../resource-metadata.ts';
import type { Validator } from '../validator.ts';
import { checkBinding, isDpopBound, resolveDpopOptions, TrustedPeers, type BindingRequest, type DpopConfig } from './binding.ts';
import type { AuthenticationRequirement } from './step-up.ts';

export { checkScopes } from './scopes.ts';
export { checkAcrValues, checkAuthenticationRequirements, checkMaxAge, type AuthenticationRequirement, type AuthenticationRequirements } from './step-up.ts';

/** What the middleware verifies tokens with: a validator, an introspector, or any function of the token. */
export type TokenVerifier = Validator | Introspector | ((token: string) => Promise<AccessTokenClaims>);

/** What a challenge names besides the error: the same for every refusal of one middleware. */
export interface ChallengeConfig {
  realm: string;
  /** RFC 9728 §5.1 `resource_metadata`; undefined: none. */
  resourceMetadata: string | undefined;
  /** Which schemes are offered (RFC 9449 §7.1), and the proof algorithms the DPoP challenge names. */
  dpop: { mode: DpopConfig['mode']; algorithms: readonly string[] };
}

/** A middleware's verifier and challenge, checked at creation. */
export interface BearerAuthConfig extends ChallengeConfig {
  verify: (token: string) => Promise<AccessTokenClaims>;
  dpopConfig: DpopConfig;
  /** Peers whose Client-Cert header is believed (Fastify, Express). */
  trustedProxies: TrustedPeers;
  /** fetch: believe every request's Client-Cert header. */
  trustClientCertHeader: boolean;
}

/**
 * The parts of a request a token and its proof of possession travel in (RFC 6750 §2, RFC 9449 §7,
 * RFC 8705 §3). The query string is never read.
 */
export interface BearerRequest {
  /** The Authorization header, as received (`Bearer <token>` or `DPoP <token>`). */
  authorization: string | undefined;
  /** `access_token` from a form-encoded body (RFC 6750 §2.2): undefined, a string, or several. */
  bodyToken: unknown;
  /** The `DPoP` header field value(s), as received (RFC 9449 §4.1). */
  dpop?: string | readonly string[];
  /** The request method: the proof's `htm`. Needed with the DPoP scheme. */
  method?: string;
  /**
   * The absolute URL the request was received at (`https://api.example.com/orders?x=1`): the proof's
   * `htu` is checked against it, or against the `dpop.publicUrl` option followed by its path. Needed
   * with the DPoP scheme.
   */
  url?: string;
  /**
   * The DER of the request's client certificate, for certificate-bound tokens (RFC 8705 §3): the TLS
   * connection's peer certificate, or the RFC 9440 `Client-Cert` header of a trusted proxy
   * (parseClientCertHeader). Undefined: none.
   */
  clientCertificate?: Uint8Array;
}

/** An RFC 6750 §3 error response, for the adapters to send as they send things. */
export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  /** Undefined: no body (no token at all). */
  body: { error: string; error_description: string } | undefined;
}

export function bearerAuthConfig(verifier: TokenVerifier, options: BearerAuthOptions = {}): BearerAuthConfig {
  const dpopConfig = resolveDpopOptions(options.dpop);
  const trustClientCertHeader = options.trustClientCertHeader ?? BEARER_AUTH_DEFAULTS.trustClientCertHeader;
  if (typeof trustClientCertHeader !== 'boolean') throw new ConfigurationError('trustClientCertHeader must be true or false');
  return {
    verify: toVerify(verifier),
    realm: checkRealm(options.realm ?? BEARER_AUTH_DEFAULTS.realm),
    resourceMetadata: metadataUrl(verifier, options.resourceMetadata ?? BEARER_AUTH_DEFAULTS.resourceMetadata),
    dpop: { mode: dpopConfig.mode, algorithms: dpopConfig.algorithms },
    dpopConfig,
    trustedProxies: new TrustedPeers(options.trustedProxies ?? [...BEARER_AUTH_DEFAULTS.trustedProxies]),
    trustClientCertHeader,
  };
}

/** The `resourceMetadata` option: a URL, `true` (from the validator's audience, RFC 9728 §3.1), or none. */
function metadataUrl(verifier: TokenVerifier, option: unknown): string | undefined {
  if (option === false) return undefined;
  if (option === true) {
    const audience = typeof verifier === 'object' && verifier !== null ? (verifier as Partial<Validator>).audience : undefined;
    if (typeof audience !== 'string') {
      throw new ConfigurationError('resourceMetadata: true takes the URL from a validator\'s audience; with an introspector or a function, give the URL');
    }
    return resourceMetadataUrl(audience);
  }
  if (typeof option !== 'string') throw new ConfigurationError('resourceMetadata must be a URL, true or false');
  let url: URL;
  try {
    url = new URL(option);
  } catch {
    throw new ConfigurationError(`resourceMetadata "${option}" is not a URL`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.hash || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
    throw new ConfigurationError('resourceMetadata must be an https URL without a fragment (plain http only on localhost, 127.0.0.1 and [::1])');
  }
  // Serialised by URL: no `"` or `\`, so it needs no escaping in the quoted-string.
  return url.href;
}

function toVerify(verifier: TokenVerifier): (token: string) => Promise<AccessTokenClaims> {
  if (typeof verifier === 'function') return verifier;
  if (verifier && typeof (verifier as Validator).validate === 'function') return (verifier as Validator).validate;
  if (verifier && typeof (verifier as Introspector).introspect === 'function') return (verifier as Introspector).introspect;
  throw new ConfigurationError('bearerAuth needs a validator, an introspector or a function of the token');
}

/** RFC 7235 §2.2 / RFC 6750 §3: realm is a quoted-string; we accept only what needs no escaping. */
function checkRealm(realm: unknown): string {
  if (typeof realm !== 'string' || !/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/.test(realm)) {
    throw new ConfigurationError('realm must be printable ASCII without " or \\');
  }
  return realm;
}


/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

type Scheme = 'bearer' | 'dpop';

/** The scheme each refusal of verifiedToken was about, for the challenge that carries its error. */
const errorSchemes = new WeakMap<object, Scheme>();

/**
 * The token of a request (RFC 6750 §2, RFC 9449 §7), verified. The header's scheme is matched without
 * regard to case; a scheme the middleware does not take counts as no token (§3.1); the form body is
 * read only when the adapter found one; the URI query is never read (RFC 9700 §2.5: tokens in URLs leak).
 */
export async function authenticate(config: BearerAuthConfig, request: BearerRequest): Promise<AccessTokenClaims> {
  return (await verifiedToken(config, request)).claims;
}

/** The request's token and its verified claims (authenticate, for callers that pass the token on). */
export async function verifiedToken(
  config: BearerAuthConfig,
  request: BearerRequest,
): Promise<{ token: string; claims: AccessTokenClaims; scheme: Scheme }> {
  let scheme: Scheme = 'bearer';
  try {
    const fromHeader = headerToken(request.authorization, config.dpop.mode);
    if (fromHeader) scheme = fromHeader.scheme;
    // A form body is a bearer method (RFC 6750 §2.2): not taken where only DPoP is.
    const fromBody = config.dpop.mode === 'required' ? undefined : bodyToken(request.bodyToken);
    // RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token in each request."
    if (fromHeader !== undefined && fromBody !== undefined) throw new InvalidRequestError('the access token was sent in more than one way');
    const token = fromHeader?.token ?? fromBody;
    if (token === undefined) throw new MissingTokenError('no access token in the request');
    const claims = await config.verify(token);
    await checkBinding(config.dpopConfig, request as BindingRequest, scheme, token, claims);
    return { token, claims, scheme };
  } catch (err) {
    // The header's own refusals already name their scheme (the scheme is known before the token).
    if (typeof err === 'object' && err !== null && !errorSchemes.has(err)) errorSchemes.set(err, scheme);
    throw err;
  }
}

function headerToken(authorization: string | undefined, mode: ChallengeConfig['dpop']['mode']): { scheme: Scheme; token: string } | undefined {
  if (authorization === undefined) return undefined;
  const match = /^\s*(\S+)(?:\s+(.*?))?\s*$/s.exec(authorization);
  if (!match) return undefined;
  // RFC 7235 §2.1: the scheme is case-insensitive. A scheme not taken here: "attempted using an
  // unsupported authentication method" (RFC 6750 §3.1), answered like no token at all.
  const name = match[1]!.toLowerCase();
  const scheme: Scheme | undefined =
    name === 'bearer' && mode !== 'required' ? 'bearer' : name === 'dpop' && mode !== 'disabled' ? 'dpop' : undefined;
  if (scheme === undefined) return undefined;
  const credentials = match[2];
  const label = scheme === 'dpop' ? 'DPoP' : 'Bearer';
  try {
    if (credentials === undefined || credentials === '') throw new InvalidRequestError(`the ${label} credentials are empty`);
    // RFC 9449 §7.1: the DPoP scheme's credentials are the token68 token, as Bearer's b64token.
    if (!B64TOKEN.test(credentials)) throw new TokenValidationError('malformed', `the ${label} credentials are not a b64token`);
  } catch (err) {
    errorSchemes.set(err as object, scheme);
    throw err;
  }
  return { scheme, token: credentials };
}

function bodyToken(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  // RFC 6750 §3.1 invalid_request: "... repeats the same parameter".
  if (typeof value !== 'string') throw new InvalidRequestError('access_token appears more than once in the body');
  if (value === '') throw new InvalidRequestError('access_token in the body is empty');
  return value;
}

/**
 * RFC 6750 §2.2: a body token counts only in an `application/x-www-form-urlencoded` body of a method
 * whose body has meaning (not GET or HEAD). `body` is what the framework's parser made of it: a plain
 * object (qs, fast-querystring) or URLSearchParams.
 */
export function formBodyToken(method: string, contentType: string | undefined, body: unknown): unknown {
  if (method === 'GET' || method === 'HEAD') return undefined;
  if (!contentType || contentType.split(';')[0]!.trim().toLowerCase() !== 'application/x-www-form-urlencoded') return undefined;
  if (body instanceof URLSearchParams) {
    const all = body.getAll('access_token');
    return all.length === 0 ? undefined : all.length === 1 ? all[0] : all;
  }
  if (typeof body === 'object' && body !== null && Object.hasOwn(body, 'access_token')) return (body as Record<string, unknown>).access_token;
  return undefined;
}

/** RFC 6750 §3.1 insufficient_scope unless the token carries every one of `required`. */
export function assertScopes(claims: AccessTokenClaims, required: readonly string[]): void {
  if (!required.every((scope) => claims.scope.includes(scope))) {
    const err = new InsufficientScopeError(required);
    // A bound token got here through the DPoP scheme only (RFC 9449 §7.2): its challenge carries the error.
    errorSchemes.set(err, isDpopBound(claims) ? 'dpop' : 'bearer');
    throw err;
  }
}

/**
 * RFC 9470 §3 insufficient_user_authentication unless the token's `acr` is one of the required values
 * and its `auth_time` no older than the required age. "The authentication event associated with the
 * access token presented with the request does not meet the authentication requirements of the
 * protected resource": a token without `acr` or `auth_time` does not meet them either.
 */
export function assertAuthentication(claims: AccessTokenClaims, required: AuthenticationRequirement): void {
  let reason: 'acr' | 'auth_time' | undefined;
  if (required.acrValues !== undefined && (claims.acr === undefined || !required.acrValues.includes(claims.acr))) {
    reason = 'acr';
  } else if (required.maxAge !== undefined) {
    // The age is held to the validator's default leeway, as the introspector holds exp and nbf.
    const oldest = Math.floor(Date.now() / 1000) - required.maxAge - VALIDATOR_DEFAULTS.clockToleranceSeconds;
    if (typeof claims.auth_time !== 'number' || claims.auth_time < oldest) reason = 'auth_time';
  }
  if (reason === undefined) return;
  const err = new InsufficientUserAuthenticationError(reason, required);
  // As for insufficient_scope: a bound token got here through the DPoP scheme only (RFC 9449 §7.2).
  errorSchemes.set(err, isDpopBound(claims) ? 'dpop' : 'bearer');
  throw err;
}

/**
 * The RFC 6750 §3 response for an error of this package, or undefined for anything else (a bug, which
 * the framework answers as 500). The descriptions are fixed texts: the token is never echoed.
 * `routeScopes`: the scopes the route needs, named in the other challenges' `scope` when given.
 */
export function errorReply(err: unknown, challenge: ChallengeConfig, routeScopes?: readonly string[]): ErrorReply | undefined {
  if (!(err instanceof ResourceServerError)) return undefined;
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (err.status === 503) {
    if (err instanceof JwksUnavailableError && err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  } else {
    const offered: Scheme[] = challenge.dpop.mode === 'required' ? ['dpop'] : challenge.dpop.mode === 'disabled' ? ['bearer'] : ['bearer', 'dpop'];
    // The error goes in the challenge of the scheme the request used (RFC 9449 §7.1, RFC 6750 §3).
    const used = errorSchemes.get(err);
    const erring = used !== undefined && offered.includes(used) ? used : offered[0];
    // RFC 6750 §3: scope "indicating the required scope of the access token for accessing the requested
    // resource": on insufficient_scope the scopes the check required, on the others the route's, if known.
    const scope = err instanceof InsufficientScopeError ? err.scope : routeScopes;
    const challenges = offered.map((scheme) => {
      const params = [`realm="${challenge.realm}"`];
      if (err.error !== undefined && scheme === erring) {
        params.push(`error="${err.error}"`, `error_description="${err.description}"`);
        if (err instanceof InsufficientUserAuthenticationError) {
          // RFC 9470 §3: "acr_values: A space-separated string listing the authentication context class
          // reference values in order of preference, one of which is requested to be satisfied in the
          // authentication event"; "max_age: Indicates the allowable elapsed time in seconds since the
          // last active authentication event". Both are the route's, whichever one the token failed.
          if (err.acrValues !== undefined) params.push(`acr_values="${err.acrValues.join(' ')}"`);
          if (err.maxAge !== undefined) params.push(`max_age="${err.maxAge}"`);
        }
      }
      if (scope !== undefined && scope.length > 0) params.push(`scope="${scope.join(' ')}"`);
      // RFC 9728 §5.1: resource_metadata, "The URL of the protected resource metadata."
      if (challenge.resourceMetadata !== undefined) params.push(`resource_metadata="${challenge.resourceMetadata}"`);
      // RFC 9449 §7.1: "An algs parameter SHOULD be included to signal to the client what JWS
      // algorithms are acceptable for the DPoP proof JWT ... a space-delimited list".
      if (scheme === 'dpop') params.push(`algs="${challenge.dpop.algorithms.join(' ')}"`);
      return `${scheme === 'dpop' ? 'DPoP' : 'Bearer'} ${params.join(', ')}`;
    });
    headers['www-authenticate'] = challenges.join(', ');
    const exposed: string[] = [];
    // A browser client (an MCP client in a page) may read the challenge where CORS lets it.
    if (challenge.resourceMetadata !== undefined) exposed.push('WWW-Authenticate');
    if (err instanceof UseDpopNonceError) {
      // RFC 9449 §9: the nonce to put in the next proof, readable by browser clients too.
      headers['dpop-nonce'] = err.nonce;
      exposed.push('WWW-Authenticate', 'DPoP-Nonce');
    }
    if (exposed.length > 0) headers['access-control-expose-headers'] = [...new Set(exposed)].join(', ');
  }
  if (err.error === undefined) return { status: err.status, headers, body: undefined };
  headers['content-type'] = 'application/json; charset=utf-8';
  return { status: err.status, headers, body: { error: err.error, error_description: err.description } };
}

/** The challenge of the bearerAuth a request went through, for requireScopes' 403. */
const challenges = new WeakMap<object, ChallengeConfig>();

export function rememberChallenge(request: object, config: ChallengeConfig): void {
  challenges.set(request, { realm: config.realm, resourceMetadata: config.resourceMetadata, dpop: config.dpop });
}

export function challengeOf(request: object): ChallengeConfig {
  return challenges.get(request) ?? { realm: BEARER_AUTH_DEFAULTS.realm, resourceMetadata: undefined, dpop: DEFAULT_CHALLENGE_DPOP };
}

const DEFAULT_CHALLENGE_DPOP: ChallengeConfig['dpop'] = { mode: DPOP_DEFAULTS.mode, algorithms: DPOP_DEFAULTS.algorithms };

/**
 * The scopes each requireScopes check (a preHandler, a middleware, a wrapped handler) requires, so that
 * bearerAuth can name a route's scopes in its 401 before that check has run.
 */
const requiredScopes = new WeakMap<object, readonly string[]>();

export function markScopes<T extends object>(check: T, scopes: readonly string[]): T {
  requiredScopes.set(check, scopes);
  return check;
}

/** Every scope the requireScopes checks among `functions` require, in order, each once; [] for none. */
export function scopesOf(functions: Iterable<unknown>): string[] {
  const all = new Set<string>();
  for (const fn of functions) {
    if (typeof fn === 'function') for (const scope of requiredScopes.get(fn) ?? []) all.add(scope);
  }
  return [...all];
}
