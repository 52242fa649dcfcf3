import * as oauth from 'oauth4webapi';
import type { ClientCore } from './lib/client-core.ts';
import { authenticationOf, type TokenSet } from './token-set.ts';

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
 * response has none. With DPoP, the request carries a proof by the client's key (RFC 9449 §5).
 */
export async function refresh(core: ClientCore, refreshToken: string, options: RefreshOptions = {}): Promise<TokenSet> {
  const previous = options.previous;
  const tokens = await core.requestTokens(
    'the token endpoint',
    ({ as, client, auth, options: requestOptions }) =>
      oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, {
        ...requestOptions,
        additionalParameters: formParameters({ scope: options.scope, resource: options.resource }),
      }),
    { process: oauth.processRefreshTokenResponse, idToken: { previous: previous?.idTokenClaims } },
  );
  tokens.refreshToken ??= refreshToken;
  if (tokens.idToken === undefined && previous?.idToken !== undefined) {
    tokens.idToken = previous.idToken;
    tokens.idTokenClaims = previous.idTokenClaims;
    Object.assign(tokens, authenticationOf(previous.idTokenClaims));
  }
  return tokens;
}

/** Form parameters; an array repeats the parameter (RFC 8707 `resource`), undefined leaves it out. */
export function formParameters(params: Record<string, string | readonly string[] | undefined>): URLSearchParams {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const v of typeof value === 'string' ? [value] : value) form.append(name, v);
  }
  return form;
}
