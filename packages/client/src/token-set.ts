import { InvalidResponseError } from './errors.ts';
import type { IdTokenClaims } from './id-token.ts';

/** The tokens of one successful token response (RFC 6749 §5.1), with the ID token's claims once validated. */
export interface TokenSet {
  accessToken: string;
  /** Always `Bearer` (case as the server sent it). */
  tokenType: string;
  /** The `expires_in` of the response, in seconds; undefined when the server did not say. */
  expiresIn?: number | undefined;
  /** When the access token expires, in seconds since the epoch (as JWT `exp`); undefined when unknown. */
  expiresAt?: number | undefined;
  /** The scope granted, space-separated, when the server said. */
  scope?: string | undefined;
  /** The refresh token to keep (after a rotation, the new one). */
  refreshToken?: string | undefined;
  idToken?: string | undefined;
  /** The claims of `idToken`, validated. */
  idTokenClaims?: IdTokenClaims | undefined;
}

/** Reads a successful RFC 6749 §5.1 token response. Only Bearer tokens are accepted. */
export function parseTokenResponse(body: Record<string, unknown>, what = 'the token endpoint'): TokenSet {
  const accessToken = body.access_token;
  if (typeof accessToken !== 'string' || accessToken === '') throw new InvalidResponseError(`${what} answered without an access_token`, 200);
  const tokenType = body.token_type;
  // RFC 6749 §5.1: token_type is REQUIRED, and §7.1: its value is case insensitive.
  if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
    throw new InvalidResponseError(`${what} answered with token_type ${JSON.stringify(tokenType)}, not Bearer`, 200);
  }
  const tokens: TokenSet = { accessToken, tokenType };
  const expiresIn = optionalLifetime(body.expires_in, what);
  if (expiresIn !== undefined) {
    tokens.expiresIn = expiresIn;
    tokens.expiresAt = Math.floor(Date.now() / 1000) + expiresIn;
  }
  tokens.scope = optionalString(body, 'scope', what);
  tokens.refreshToken = optionalString(body, 'refresh_token', what);
  tokens.idToken = optionalString(body, 'id_token', what);
  return tokens;
}

export function optionalString(body: Record<string, unknown>, member: string, what: string): string | undefined {
  const value = body[member];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new InvalidResponseError(`${what} answered with an invalid ${member}`, 200);
  return value;
}

export function optionalLifetime(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidResponseError(`${what} answered with an invalid expires_in`, 200);
  }
  return Math.floor(value);
}

/**
 * When tokens of this set should be replaced: `marginSeconds` before they expire, but never earlier
 * than halfway through their lifetime (a token that lives 60 s is not refreshed on every call because the
 * margin is 60 s). Infinity when the expiry is unknown.
 */
export function staleAt(tokens: Pick<TokenSet, 'expiresAt' | 'expiresIn'>, marginSeconds: number): number {
  if (tokens.expiresAt === undefined) return Number.POSITIVE_INFINITY;
  const margin = tokens.expiresIn === undefined ? marginSeconds : Math.min(marginSeconds, tokens.expiresIn / 2);
  return tokens.expiresAt - margin;
}
