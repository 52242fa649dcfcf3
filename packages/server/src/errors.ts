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

  /**
   * @param description Public, human-readable `error_description`.
   * @param detail Private detail for logs; never sent.
   */
  constructor(
    readonly description: string,
    readonly detail?: string,
  ) {
    super(description);
    this.name = new.target.name;
  }
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

/** RFC 6749 §5.2: the scope is invalid, unknown, malformed or more than the client may have. */
export class InvalidScope extends OAuthError {
  readonly error = 'invalid_scope';
}

/** RFC 8707 §2: the requested resource is invalid, unknown or not allowed to this client. */
export class InvalidTarget extends OAuthError {
  readonly error = 'invalid_target';
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

/** A configuration mistake, reported at startup or by the CLI; never sent over HTTP. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A registry (resources, clients) rule was broken by an admin command. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    message: string,
    readonly code: 'not_found' | 'conflict' | 'invalid',
  ) {
    super(message);
  }
}
