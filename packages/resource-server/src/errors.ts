/**
 * Every error this package throws on purpose. Each one knows the HTTP status and the RFC 6750 error
 * code a middleware answers with, and a public description that never contains the token.
 */
export abstract class ResourceServerError extends Error {
  /** The HTTP status a middleware answers with. */
  abstract readonly status: number;
  /** The RFC 6750 §3.1 error code (or RFC 6749 `temporarily_unavailable` for 503); undefined: none. */
  abstract readonly error: string | undefined;
  /** A fixed text for `error_description`: safe to send, never echoes the token. */
  abstract readonly description: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Which check refused a token, in the order the validator runs them; `inactive` is introspection's
 * `{"active": false}` (RFC 7662 §2.2).
 */
export const VALIDATION_CHECKS = [
  'size',
  'malformed',
  'algorithm',
  'key',
  'crit',
  'signature',
  'typ',
  'issuer',
  'audience',
  'expired',
  'not_yet_valid',
  'claims',
  'inactive',
  'dpop_bound',
  'not_dpop_bound',
  'certificate',
  'cnf',
] as const;

export type ValidationCheck = (typeof VALIDATION_CHECKS)[number];

const DESCRIPTIONS: Record<ValidationCheck, string> = {
  size: 'the access token is too large',
  malformed: 'the access token is malformed',
  algorithm: 'the access token is signed with an algorithm this resource does not accept',
  key: 'the access token is not signed by a key of the issuer',
  crit: 'the access token has a critical header parameter this resource does not understand',
  signature: 'the access token signature is invalid',
  typ: 'the token is not an access token',
  issuer: 'the access token is from another issuer',
  audience: 'the access token is not meant for this resource',
  expired: 'the access token has expired',
  not_yet_valid: 'the access token is not valid yet',
  claims: 'the access token lacks a required claim or has one of the wrong type',
  inactive: 'the access token is not active',
  dpop_bound: 'the access token is bound to a DPoP key: present it with the DPoP scheme and a proof',
  not_dpop_bound: 'the access token is not bound to a DPoP key: present it with the Bearer scheme',
  certificate: 'the access token is bound to a client certificate this request does not present',
  cnf: 'the access token is bound to a key in a way this resource cannot check',
};

/** RFC 6750 §3.1 `invalid_token` (401): the token is refused; `check` says which check failed. */
export class TokenValidationError extends ResourceServerError {
  readonly status = 401;
  readonly error = 'invalid_token';
  readonly description: string;

  readonly check: ValidationCheck;

  /** `detail` is for logs: which claim, which header. It never contains the token or its values. */
  constructor(
    check: ValidationCheck,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    super(detail ? `${DESCRIPTIONS[check]}: ${detail}` : DESCRIPTIONS[check], options);
    this.check = check;
    this.description = DESCRIPTIONS[check];
  }
}

/** The issuer's keys cannot be had (issuer unreachable and the token's kid not cached): 503, not 401. */
export class JwksUnavailableError extends ResourceServerError {
  readonly status = 503;
  readonly error = 'temporarily_unavailable';
  readonly description = 'the issuer keys are unavailable; try again later';
  /** When the issuer will be asked again (the middleware's `Retry-After`). */
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The introspection endpoint cannot be reached or answered something unusable: 503, not 401. */
export class IntrospectionUnavailableError extends ResourceServerError {
  readonly status = 503;
  readonly error = 'temporarily_unavailable';
  readonly description = 'token introspection is unavailable; try again later';
}

/** RFC 6750 §3.1: no token at all; the challenge carries no error code and the body is empty. */
export class MissingTokenError extends ResourceServerError {
  readonly status = 401;
  readonly error = undefined;
  readonly description = 'an access token is required';
}

/** RFC 6750 §3.1 `invalid_request` (400): e.g. the token was sent in more than one way. */
export class InvalidRequestError extends ResourceServerError {
  readonly status = 400;
  readonly error = 'invalid_request';
  readonly description: string;

  constructor(description: string) {
    super(description);
    this.description = description;
  }
}

/** RFC 6750 §3.1 `insufficient_scope` (403): the token lacks a scope the route requires. */
export class InsufficientScopeError extends ResourceServerError {
  readonly status = 403;
  readonly error = 'insufficient_scope';
  readonly description = 'the access token lacks a scope this resource requires';

  readonly scope: readonly string[];

  /** `scope`: every scope the route requires (the challenge's `scope` attribute). */
  constructor(scope: readonly string[]) {
    super('the access token lacks a scope this resource requires');
    this.scope = scope;
  }
}

/**
 * RFC 9470 §3 `insufficient_user_authentication` (401): "The authentication event associated with the
 * access token presented with the request does not meet the authentication requirements of the
 * protected resource." `acrValues` and `maxAge` are the route's requirements, named in the challenge
 * as `acr_values` and `max_age` so that the client can ask for a token that meets them.
 */
export class InsufficientUserAuthenticationError extends ResourceServerError {
  readonly status = 401;
  readonly error = 'insufficient_user_authentication';
  readonly description: string;

  /** What the token lacks: an accepted `acr`, or an `auth_time` recent enough. */
  readonly reason: 'acr' | 'auth_time';
  /** The `acr` values the route accepts (the challenge's `acr_values`); undefined: any. */
  readonly acrValues: readonly string[] | undefined;
  /** The largest age of the sign-in the route accepts, in seconds (the challenge's `max_age`); undefined: any. */
  readonly maxAge: number | undefined;

  constructor(reason: 'acr' | 'auth_time', requirement: { acrValues?: readonly string[] | undefined; maxAge?: number | undefined }) {
    // The descriptions are RFC 9470 §3's examples: fixed texts, never the token's values.
    const description = reason === 'acr' ? 'a different authentication level is required' : 'more recent authentication is required';
    super(description);
    this.description = description;
    this.reason = reason;
    this.acrValues = requirement.acrValues;
    this.maxAge = requirement.maxAge;
  }
}

/**
 * RFC 9449 §7.1 `invalid_dpop_proof` (401): the request's DPoP proof is missing or fails a check of
 * §4.3 (the proof's key not the token's `cnf.jkt` included). The description never echoes the proof.
 */
export class InvalidDpopProofError extends ResourceServerError {
  readonly status = 401;
  readonly error = 'invalid_dpop_proof';
  readonly description: string;

  constructor(description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.description = description;
  }
}

/**
 * RFC 9449 §9 `use_dpop_nonce` (401): this resource requires a nonce in proofs and the proof had none,
 * or a stale one; `nonce` is the one to use, sent in the `DPoP-Nonce` header.
 */
export class UseDpopNonceError extends ResourceServerError {
  readonly status = 401;
  readonly error = 'use_dpop_nonce';
  readonly description = 'the resource server requires a DPoP nonce in the proof';
  readonly nonce: string;

  constructor(nonce: string) {
    super('the resource server requires a DPoP nonce in the proof');
    this.nonce = nonce;
  }
}

/** An option of createValidator, createIntrospector or a middleware is wrong: thrown at creation. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}
