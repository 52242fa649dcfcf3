import type * as oauth from 'oauth4webapi';
import { InvalidResponseError } from './errors.ts';
import type { IdTokenClaims } from './id-token.ts';

/** The tokens of one successful token response (RFC 6749 §5.1), with the ID token's claims once validated. */
export interface TokenSet {
  accessToken: string;
  /**
   * `Bearer`, or `DPoP` for an access token bound to the client's DPoP key (RFC 9449 §5), which must
   * be sent with a proof (TokenSession's and ClientCredentials' `authorizedFetch` do).
   */
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
  /**
   * The ID token's `acr` (OIDC Core §2): the class of authentication the server says the user's sign-in
   * satisfied, e.g. after a step-up (RFC 9470 §4). Undefined when the ID token has none, or there is none.
   */
  acr?: string | undefined;
  /** The ID token's `amr` (OIDC Core §2, RFC 8176): how the user authenticated, e.g. `['pwd', 'otp']`. */
  amr?: string[] | undefined;
}

/**
 * A token response oauth4webapi has checked, as a TokenSet. RFC 6749 §7.1: the token type is case
 * insensitive (oauth4webapi lowercases it); the SDK spells it `Bearer` or `DPoP`. A DPoP token is
 * accepted only when the client sent a proof; a Bearer token always (RFC 9449 §5: a server that does not
 * support DPoP issues Bearer tokens).
 */
export function toTokenSet(json: oauth.TokenEndpointResponse, idTokenClaims: IdTokenClaims | undefined, dpop: boolean, what: string): TokenSet {
  let tokenType: string;
  if (json.token_type === 'bearer') tokenType = 'Bearer';
  else if (json.token_type === 'dpop' && dpop) tokenType = 'DPoP';
  else throw new InvalidResponseError(`${what} answered with token_type ${JSON.stringify(json.token_type)}, not Bearer${dpop ? ' or DPoP' : ''}`, 200);
  const tokens: TokenSet = { accessToken: json.access_token, tokenType };
  if (json.expires_in !== undefined) {
    tokens.expiresIn = Math.floor(json.expires_in);
    tokens.expiresAt = Math.floor(Date.now() / 1000) + tokens.expiresIn;
  }
  tokens.scope = json.scope;
  tokens.refreshToken = json.refresh_token;
  tokens.idToken = json.id_token;
  tokens.idTokenClaims = idTokenClaims;
  Object.assign(tokens, authenticationOf(idTokenClaims));
  return tokens;
}

/** The `acr` and `amr` of validated ID token claims, each when it has the type OIDC Core §2 gives it. */
export function authenticationOf(claims: IdTokenClaims | undefined): Pick<TokenSet, 'acr' | 'amr'> {
  const acr: unknown = claims?.acr;
  const amr: unknown = claims?.amr;
  return {
    acr: typeof acr === 'string' ? acr : undefined,
    amr: Array.isArray(amr) && amr.every((m) => typeof m === 'string') ? [...(amr as string[])] : undefined,
  };
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
