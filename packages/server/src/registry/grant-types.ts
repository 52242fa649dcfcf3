/** The grant types the token endpoint implements (RFC 6749 §4, RFC 8628 §3.4, RFC 8693 §2.1). */

/** RFC 8628 §3.4: the grant type of a device access token request. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8693 §2.1: the grant type of a token exchange. */
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** RFC 8693 §3: the only token type Latchkey takes and issues in an exchange, its own access tokens. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * Every grant type a client may be registered for: exactly those grants/index.ts implements (a test
 * holds the two lists together). Discovery lists them.
 */
export const GRANT_TYPES = ['authorization_code', 'client_credentials', DEVICE_CODE_GRANT, 'refresh_token', TOKEN_EXCHANGE_GRANT_TYPE] as const;
