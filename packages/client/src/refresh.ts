import type { ClientCore } from './lib/client-core.ts';
import { parseTokenResponse, type TokenSet } from './token-set.ts';

export interface RefreshOptions {
  /** A narrower scope for the new access token (RFC 6749 §6: never more than was granted). */
  scope?: string | undefined;
  /** RFC 8707 resource indicators for the new access token. */
  resource?: string | readonly string[] | undefined;
  /** The tokens being refreshed: their ID token is what a new one is checked against (OIDC Core §12.2). */
  previous?: TokenSet | undefined;
}

/**
 * RFC 6749 §6: exchanges a refresh token for new tokens. Latchkey rotates refresh tokens on every use
 * (OAuth 2.1 §4.3.1): the returned set carries the new refresh token, and the old one is spent. When a
 * server does not rotate, the returned set keeps the old one. The previous ID token is kept when the
 * response has none.
 */
export async function refresh(core: ClientCore, refreshToken: string, options: RefreshOptions = {}): Promise<TokenSet> {
  const tokens = parseTokenResponse(
    await core.requestToken({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      scope: options.scope,
      resource: options.resource,
    }),
  );
  tokens.refreshToken ??= refreshToken;
  const previous = options.previous;
  if (tokens.idToken !== undefined) {
    tokens.idTokenClaims = await core.validateIdToken(tokens.idToken, { accessToken: tokens.accessToken, previous: previous?.idTokenClaims });
  } else if (previous?.idToken !== undefined) {
    tokens.idToken = previous.idToken;
    tokens.idTokenClaims = previous.idTokenClaims;
  }
  return tokens;
}
