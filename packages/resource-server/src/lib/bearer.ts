import type { AccessTokenClaims } from '../claims.ts';
import { BEARER_AUTH_DEFAULTS, type BearerAuthOptions } from '../defaults.ts';
import {
  ConfigurationError,
  InsufficientScopeError,
  InvalidRequestError,
  JwksUnavailableError,
  MissingTokenError,
  ResourceServerError,
  TokenValidationError,
} from '../errors.ts';
import type { Introspector } from '../introspector.ts';
import { resourceMetadataUrl } from '../resource-metadata.ts';
import type { Validator } from '../validator.ts';

export { checkScopes } from './scopes.ts';

/** What the middleware verifies tokens with: a validator, an introspector, or any function of the token. */
export type TokenVerifier = Validator | Introspector | ((token: string) => Promise<AccessTokenClaims>);

/** What a challenge names besides the error: the same for every refusal of one middleware. */
export interface ChallengeConfig {
  realm: string;
  /** RFC 9728 §5.1 `resource_metadata`; undefined: none. */
  resourceMetadata: string | undefined;
}

/** A middleware's verifier and challenge, checked at creation. */
export interface BearerAuthConfig extends ChallengeConfig {
  verify: (token: string) => Promise<AccessTokenClaims>;
}

/** The parts of a request RFC 6750 §2 lets a token travel in. The query string is never read. */
export interface BearerRequest {
  /** The Authorization header, as received. */
  authorization: string | undefined;
  /** `access_token` from a form-encoded body (RFC 6750 §2.2): undefined, a string, or several. */
  bodyToken: unknown;
}

/** An RFC 6750 §3 error response, for the adapters to send as they send things. */
export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  /** Undefined: no body (no token at all). */
  body: { error: string; error_description: string } | undefined;
}

export function bearerAuthConfig(verifier: TokenVerifier, options: BearerAuthOptions = {}): BearerAuthConfig {
  return {
    verify: toVerify(verifier),
    realm: checkRealm(options.realm ?? BEARER_AUTH_DEFAULTS.realm),
    resourceMetadata: metadataUrl(verifier, options.resourceMetadata ?? BEARER_AUTH_DEFAULTS.resourceMetadata),
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

/**
 * The token of a request (RFC 6750 §2), verified. The header's scheme is matched without regard to
 * case; another scheme counts as no token (§3.1); the form body is read only when the adapter found
 * one; the URI query is never read (RFC 9700 §2.5: tokens in URLs leak).
 */
export async function authenticate(config: BearerAuthConfig, request: BearerRequest): Promise<AccessTokenClaims> {
  return (await verifiedToken(config, request)).claims;
}

/** The request's token and its verified claims (authenticate, for callers that pass the token on). */
export async function verifiedToken(config: BearerAuthConfig, request: BearerRequest): Promise<{ token: string; claims: AccessTokenClaims }> {
  const fromHeader = headerToken(request.authorization);
  const fromBody = bodyToken(request.bodyToken);
  // RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token in each request."
  if (fromHeader !== undefined && fromBody !== undefined) throw new InvalidRequestError('the access token was sent in more than one way');
  const token = fromHeader ?? fromBody;
  if (token === undefined) throw new MissingTokenError('no bearer token in the request');
  return { token, claims: await config.verify(token) };
}

function headerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^\s*(\S+)(?:\s+(.*?))?\s*$/s.exec(authorization);
  // RFC 7235 §2.1: the scheme is case-insensitive. Another scheme: "attempted using an unsupported
  // authentication method" (RFC 6750 §3.1), answered like no token at all.
  if (!match || match[1]!.toLowerCase() !== 'bearer') return undefined;
  const credentials = match[2];
  if (credentials === undefined || credentials === '') throw new InvalidRequestError('the Bearer credentials are empty');
  if (!B64TOKEN.test(credentials)) throw new TokenValidationError('malformed', 'the Bearer credentials are not a b64token');
  return credentials;
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
  if (!required.every((scope) => claims.scope.includes(scope))) throw new InsufficientScopeError(required);
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
    const params = [`realm="${challenge.realm}"`];
    if (err.error !== undefined) params.push(`error="${err.error}"`, `error_description="${err.description}"`);
    // RFC 6750 §3: scope "indicating the required scope of the access token for accessing the requested
    // resource": on insufficient_scope the scopes the check required, on the others the route's, if known.
    const scope = err instanceof InsufficientScopeError ? err.scope : routeScopes;
    if (scope !== undefined && scope.length > 0) params.push(`scope="${scope.join(' ')}"`);
    if (challenge.resourceMetadata !== undefined) {
      // RFC 9728 §5.1: resource_metadata, "The URL of the protected resource metadata."
      params.push(`resource_metadata="${challenge.resourceMetadata}"`);
      // A browser client (an MCP client in a page) may read the challenge where CORS lets it.
      headers['access-control-expose-headers'] = 'WWW-Authenticate';
    }
    headers['www-authenticate'] = `Bearer ${params.join(', ')}`;
  }
  if (err.error === undefined) return { status: err.status, headers, body: undefined };
  headers['content-type'] = 'application/json; charset=utf-8';
  return { status: err.status, headers, body: { error: err.error, error_description: err.description } };
}

/** The challenge of the bearerAuth a request went through, for requireScopes' 403. */
const challenges = new WeakMap<object, ChallengeConfig>();

export function rememberChallenge(request: object, config: ChallengeConfig): void {
  challenges.set(request, { realm: config.realm, resourceMetadata: config.resourceMetadata });
}

export function challengeOf(request: object): ChallengeConfig {
  return challenges.get(request) ?? { realm: BEARER_AUTH_DEFAULTS.realm, resourceMetadata: undefined };
}

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
