/**
 * Every error the SDK throws is a `LatchkeyClientError` with a stable `code`, so callers can branch on
 * the class (`err instanceof StateMismatchError`) or on the code (`err.code === 'ERR_STATE_MISMATCH'`).
 */
export abstract class LatchkeyClientError extends Error {
  /** A stable identifier of the kind of failure. */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The fields of an RFC 6749 §5.2 (or §4.1.2.1) error response. */
export interface OAuthErrorFields {
  error: string;
  error_description?: string | undefined;
  error_uri?: string | undefined;
}

/**
 * The authorization server answered with an OAuth error (RFC 6749 §5.2): `invalid_grant`,
 * `invalid_client`, `server_error`, ... `status` is the HTTP status of that answer.
 */
export class OAuthError extends LatchkeyClientError {
  readonly code: string = 'ERR_OAUTH';
  /** The RFC error code, e.g. `invalid_grant`. */
  readonly error: string;
  readonly error_description: string | undefined;
  readonly error_uri: string | undefined;
  /** HTTP status of the response that carried the error; undefined for an authorization response. */
  readonly status: number | undefined;

  constructor(fields: OAuthErrorFields, status: number | undefined, message?: string) {
    super(message ?? `${fields.error}${fields.error_description ? `: ${fields.error_description}` : ''}`);
    this.error = fields.error;
    this.error_description = fields.error_description;
    this.error_uri = fields.error_uri;
    this.status = status;
  }
}

/**
 * The authorization server sent the browser back with an error (RFC 6749 §4.1.2.1), e.g. `access_denied`
 * when the user pressed Deny. `status` is undefined: the error came in a redirect, not an HTTP answer.
 */
export class AuthorizationResponseError extends OAuthError {
  override readonly code = 'ERR_AUTHORIZATION_RESPONSE';

  constructor(fields: OAuthErrorFields) {
    super(fields, undefined);
  }
}

/** The discovery document could not be fetched, was not JSON, or names another issuer. */
export class DiscoveryError extends LatchkeyClientError {
  readonly code = 'ERR_DISCOVERY';
}

/** Which ID token check failed (OpenID Connect Core §3.1.3.7, §3.1.3.8 and §12.2). */
export type IdTokenCheck =
  | 'missing'
  | 'format'
  | 'typ'
  | 'alg'
  | 'signature'
  | 'jwks'
  | 'iss'
  | 'aud'
  | 'azp'
  | 'sub'
  | 'exp'
  | 'iat'
  | 'nbf'
  | 'nonce'
  | 'at_hash'
  | 'auth_time'
  | 'acr';

/** The ID token failed validation; `check` names the check that failed. */
export class IdTokenValidationError extends LatchkeyClientError {
  readonly code = 'ERR_ID_TOKEN';

  readonly check: IdTokenCheck;

  constructor(
    check: IdTokenCheck,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`ID token rejected (${check}): ${message}`, options);
    this.check = check;
  }
}

/**
 * A back-channel logout token was refused (OpenID Connect Back-Channel Logout 1.0 §2.6); `reason` says
 * which check failed. The receiving route answers 400 (§2.8).
 */
export class LogoutTokenError extends LatchkeyClientError {
  readonly code = 'ERR_LOGOUT_TOKEN';

  constructor(message: string, options?: { cause?: unknown }) {
    super(`logout token rejected: ${message}`, options);
  }
}

/** The callback's `state` is missing or is not the one this login started with (RFC 6749 §10.12). */
export class StateMismatchError extends LatchkeyClientError {
  readonly code = 'ERR_STATE_MISMATCH';
}

/**
 * The callback's `iss` is not this client's issuer, or it is missing although the server promises it
 * (RFC 9207 §2.4): the response may come from another authorization server (a mix-up attack).
 */
export class IssuerMismatchError extends LatchkeyClientError {
  readonly code = 'ERR_ISSUER_MISMATCH';

  readonly expected: string;
  /** The `iss` parameter received; null when it was missing. */
  readonly received: string | null;

  constructor(
    expected: string,
    received: string | null,
  ) {
    super(
      received === null
        ? `the authorization response has no iss parameter, but ${expected} always sends one (RFC 9207)`
        : `the authorization response comes from ${JSON.stringify(received)}, not ${expected} (RFC 9207)`,
    );
    this.expected = expected;
    this.received = received;
  }
}

/** The server answered something that is not a valid response of the protocol (not JSON, fields missing). */
export class InvalidResponseError extends LatchkeyClientError {
  readonly code = 'ERR_INVALID_RESPONSE';

  /** HTTP status of the answer, when there was one. */
  readonly status?: number;

  constructor(
    message: string,
    status?: number,
  ) {
    super(message);
    this.status = status;
  }
}

/** The request did not reach the server or no answer came back (connection refused, reset, timeout). */
export class NetworkError extends LatchkeyClientError {
  readonly code = 'ERR_NETWORK';
}

/** A feature the authorization server does not offer (yet). */
export type Feature = 'device_authorization' | 'token_exchange' | 'revocation' | 'introspection' | 'end_session' | 'authorization_code' | 'token' | 'par';

/**
 * The authorization server does not support what was asked: its metadata lacks the endpoint
 * (`reason: 'metadata'`), or it answered `unsupported_grant_type` (`reason: 'server'`, the server's
 * OAuthError as `cause`).
 */
export class UnsupportedFeatureError extends LatchkeyClientError {
  readonly code = 'ERR_UNSUPPORTED_FEATURE';

  readonly feature: Feature;
  readonly reason: 'metadata' | 'server';

  constructor(
    feature: Feature,
    reason: 'metadata' | 'server',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.feature = feature;
    this.reason = reason;
  }
}

/** The device code expired (by the `expires_in` of RFC 8628 §3.2) before the user approved it. */
export class DeviceCodeExpiredError extends LatchkeyClientError {
  readonly code = 'ERR_DEVICE_CODE_EXPIRED';
}

/** The access token expired and there is no refresh token to get another: the user must log in again. */
export class SessionExpiredError extends LatchkeyClientError {
  readonly code = 'ERR_SESSION_EXPIRED';
}

/**
 * RFC 9470 §3: an API refused the user's access token with `error="insufficient_user_authentication"`
 * in its Bearer or DPoP challenge: the token is valid, but the way (`acr_values`) or the time (`max_age`)
 * the user authenticated is not enough for this request. The user must authenticate again: start an
 * authorization request with `authorizationOptions()` (RFC 9470 §4).
 */
export class StepUpRequiredError extends LatchkeyClientError {
  readonly code = 'ERR_STEP_UP_REQUIRED';

  /** The challenge's `acr_values` (space-separated, "in order of preference"); undefined when it had none. */
  readonly acrValues: string[] | undefined;
  /** The challenge's `max_age`: the most seconds since the user last authenticated; undefined when it had none. */
  readonly maxAge: number | undefined;
  /** The challenge's scheme, lowercased: `bearer` or `dpop`. */
  readonly scheme: string;
  readonly error_description: string | undefined;
  /** The API's answer (401), its body unread. */
  readonly response: Response;

  constructor(
    challenge: { scheme: string; acrValues: string[] | undefined; maxAge: number | undefined; error_description: string | undefined },
    response: Response,
  ) {
    const wants = [
      challenge.acrValues !== undefined ? `acr_values ${challenge.acrValues.join(' ')}` : undefined,
      challenge.maxAge !== undefined ? `max_age ${challenge.maxAge}` : undefined,
    ].filter((w) => w !== undefined);
    super(
      `the API needs the user to authenticate again (insufficient_user_authentication${wants.length > 0 ? `: ${wants.join(', ')}` : ''})` +
        (challenge.error_description ? `: ${challenge.error_description}` : ''),
    );
    this.acrValues = challenge.acrValues;
    this.maxAge = challenge.maxAge;
    this.scheme = challenge.scheme;
    this.error_description = challenge.error_description;
    this.response = response;
  }

  /**
   * The options that start the step-up: `{ acrValues, maxAge }` (those the challenge had), to spread
   * into createAuthorizationRequest or the BFF's login.
   *
   * @example
   * const pending = await client.createAuthorizationRequest({ redirectUri, scope, ...err.authorizationOptions() });
   */
  authorizationOptions(): { acrValues?: string[]; maxAge?: number } {
    return {
      ...(this.acrValues !== undefined ? { acrValues: [...this.acrValues] } : {}),
      ...(this.maxAge !== undefined ? { maxAge: this.maxAge } : {}),
    };
  }
}
