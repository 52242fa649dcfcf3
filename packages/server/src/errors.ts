/**
 * OAuth errors. Every error the protocol can answer with is a class carrying its RFC error code, so
 * one serializer (http/error-reply.ts) turns any of them into the RFC response and anything else into
 * `server_error` without internals.
 */
export abstract class OAuthError extends Error {
  /** The RFC error code, sent as `error`. */
  abstract readonly error: string;
  /** HTTP status of the response. */
  readonly status: number = 400;
  /** Whether the description may be shown to the caller (always true below 500). */
  get expose(): boolean {
    return this.status < 500;
  }

  readonly description: string;
  readonly detail?: string;

  /**
   * @param description Public, human-readable `error_description`.
   * @param detail Private detail for logs; never sent.
   */
  constructor(
    description: string,
    detail?: string,
  ) {
    super(description);
    this.description = description;
    this.detail = detail;
    this.name = new.target.name;
  }
}

/**
 * RFC 6749 §5.2 and §4.1.2.1: error_description "MUST NOT include characters outside the set %x20-21 /
 * %x23-5B / %x5D-7E". Descriptions are written without double quotes and backslashes; this is the last guard for any
 * that is not (a double quote becomes a single one, anything else outside the set a space).
 */
export function safeDescription(description: string): string {
  return description.replace(/"/g, "'").replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/gu, ' ');
}

/** RFC 6749 §5.2: the request is missing a parameter, repeats one, or is otherwise malformed. */
export class InvalidRequest extends OAuthError {
  readonly error = 'invalid_request';
}

/** RFC 6749 §5.2: client authentication failed. Answered with 401. */
export class InvalidClient extends OAuthError {
  readonly error = 'invalid_client';
  override readonly status = 401;
}

/** RFC 6749 §5.2: the authenticated client may not use this grant type. */
export class UnauthorizedClient extends OAuthError {
  readonly error = 'unauthorized_client';
}

/** RFC 6749 §5.2: the grant type is not supported by this server. */
export class UnsupportedGrantType extends OAuthError {
  readonly error = 'unsupported_grant_type';
}

/** RFC 6749 §5.2: the code, refresh token or verifier is invalid, expired, revoked or not this client's. */
export class InvalidGrant extends OAuthError {
  readonly error = 'invalid_grant';
}

/** RFC 6749 §4.1.2.1: the authorization server does not support this response type. */
export class UnsupportedResponseType extends OAuthError {
  readonly error = 'unsupported_response_type';
}

/** RFC 6749 §4.1.2.1: the resource owner (or the server) denied the request. */
export class AccessDenied extends OAuthError {
  readonly error = 'access_denied';
}

/**
 * RFC 6749 §4.1.2.1: "The authorization server is currently unable to handle the request due to a
 * temporary overloading or maintenance of the server" (sent to the client by redirect, where a 503
 * cannot be).
 */
export class TemporarilyUnavailable extends OAuthError {
  readonly error = 'temporarily_unavailable';
}

/** OIDC Core §3.1.2.6: `prompt=none`, and the user must log in. */
export class LoginRequired extends OAuthError {
  readonly error = 'login_required';
}

/**
 * OIDC Core §3.1.2.6: `prompt=none`, and the user must interact in some other way (a second factor
 * to set up for the `acr_values` asked for).
 */
export class InteractionRequired extends OAuthError {
  readonly error = 'interaction_required';
}

/** OIDC Core §3.1.2.6: `prompt=none`, and the user must consent. */
export class ConsentRequired extends OAuthError {
  readonly error = 'consent_required';
}

/** OIDC Core §3.1.2.6: request objects are not supported. */
export class RequestNotSupported extends OAuthError {
  readonly error = 'request_not_supported';
}

/** OIDC Core §3.1.2.6: `request_uri` is not supported. */
export class RequestUriNotSupported extends OAuthError {
  readonly error = 'request_uri_not_supported';
}

/** RFC 8628 §3.5: the user has not yet approved or denied the device request. */
export class AuthorizationPending extends OAuthError {
  readonly error = 'authorization_pending';
}

/** RFC 8628 §3.5: polling too fast; the interval is now 5 seconds longer. */
export class SlowDown extends OAuthError {
  readonly error = 'slow_down';
}

/** RFC 8628 §3.5: the device code expired; the device must start again. */
export class ExpiredToken extends OAuthError {
  readonly error = 'expired_token';
}

/** RFC 6750 §3.1: the access token is missing something, expired, revoked or malformed. 401. */
export class InvalidToken extends OAuthError {
  readonly error = 'invalid_token';
  override readonly status = 401;
}

/** RFC 6750 §3.1: the token lacks the scope the request needs. 403. */
export class InsufficientScope extends OAuthError {
  readonly error = 'insufficient_scope';
  override readonly status = 403;
  readonly scope: string;

  /** The scope the request needs (RFC 6750 §3: sent as `scope=` in the challenge). */
  constructor(
    description: string,
    scope: string,
  ) {
    super(description);
    this.scope = scope;
  }
}

/** RFC 6749 §5.2: the scope is invalid, unknown, malformed or more than the client may have. */
export class InvalidScope extends OAuthError {
  readonly error = 'invalid_scope';
}

/** RFC 8707 §2: the requested resource is invalid, unknown or not allowed to this client. */
export class InvalidTarget extends OAuthError {
  readonly error = 'invalid_target';
}

/** RFC 9449 §5 and §7.1: the DPoP proof is missing, invalid, replayed, or for another request or key. */
export class InvalidDpopProof extends OAuthError {
  readonly error = 'invalid_dpop_proof';
  override readonly status: number;

  /** 400 at the token endpoint (RFC 9449 §5), 401 at a protected resource such as userinfo (§7.1). */
  constructor(description: string, status: 400 | 401 = 400) {
    super(description);
    this.status = status;
  }
}

/**
 * RFC 9449 §8: the server requires a nonce in DPoP proofs; the client retries with the one sent in
 * the `DPoP-Nonce` header. 400 at the authorization server, 401 at a protected resource (§9).
 */
export class UseDpopNonce extends OAuthError {
  readonly error = 'use_dpop_nonce';
  override readonly status: number;

  constructor(description: string, status: 400 | 401 = 400) {
    super(description);
    this.status = status;
  }
}

/** RFC 6749 §5.2 / §4.1.2.1: the server met an unexpected condition. Never carries internals. */
export class ServerError extends OAuthError {
  readonly error = 'server_error';
  override readonly status: number = 500;
}

/** A request body larger than the configured limit. RFC 6749 has no code for it: invalid_request, 413. */
export class PayloadTooLarge extends InvalidRequest {
  override readonly status = 413;
}

/** The request (headers or body) did not arrive within the configured time. invalid_request, 408. */
export class RequestTimeout extends InvalidRequest {
  override readonly status = 408;
}

/**
 * A dependency (the database) did not answer in time or at all. RFC 6749 §4.1.2.1 names this
 * `temporarily_unavailable` at the authorization endpoint; elsewhere the RFCs have no code for it, so
 * it is `server_error` with status 503 and `Retry-After` (RFC 9110 §15.6.4). The description is safe
 * to send: it says nothing about the dependency.
 */
export class ServiceUnavailable extends OAuthError {
  readonly error = 'server_error';
  override readonly status = 503;
  override get expose(): boolean {
    return true;
  }
  /** Seconds after which a retry may succeed (RFC 9110 §10.2.3). */
  readonly retryAfterSeconds = 5;
}

/** A configuration mistake, reported at startup or by the CLI; never sent over HTTP. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A registry (resources, clients) rule was broken by an admin command. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly code: 'not_found' | 'conflict' | 'invalid';

  constructor(
    message: string,
    code: 'not_found' | 'conflict' | 'invalid',
  ) {
    super(message);
    this.code = code;
  }
}
