import { OAuthError } from '../errors.ts';

/** RFC 7591 §3.2.2: "The value of one or more redirection URIs is invalid." */
export class InvalidRedirectUri extends OAuthError {
  readonly error = 'invalid_redirect_uri';
}

/** RFC 7591 §3.2.2: "The value of one of the client metadata fields is invalid and the server has rejected this request." */
export class InvalidClientMetadata extends OAuthError {
  readonly error = 'invalid_client_metadata';
}

/** RFC 7591 §3.2.2: "The software statement presented is invalid." */
export class InvalidSoftwareStatement extends OAuthError {
  readonly error = 'invalid_software_statement';
}

/** RFC 7591 §3.2.2: "The software statement presented is not approved for use by this authorization server." */
export class UnapprovedSoftwareStatement extends OAuthError {
  readonly error = 'unapproved_software_statement';
}

/**
 * Too many registrations from one address (RFC 7591 §5: the server may limit registrations to
 * counter denial of service). No RFC has a code for it: invalid_request, 429, with Retry-After.
 */
export class TooManyRegistrations extends OAuthError {
  readonly error = 'invalid_request';
  override readonly status = 429;
  /** Seconds until the address's window ends (RFC 9110 §10.2.3). */
  readonly retryAfterSeconds: number;

  constructor(description: string, retryAfterSeconds: number) {
    super(description);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
