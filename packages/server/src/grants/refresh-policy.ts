import type { Client } from '../registry/types.ts';

/**
 * Whether a grant with these scopes gets a refresh token: the client must be registered for the
 * refresh_token grant, and an OpenID Connect request must ask for `offline_access` (OIDC Core §11:
 * offline access is something the user consents to). A plain OAuth request (no `openid`) gets one
 * whenever the client is allowed the grant.
 */
export function mayHaveRefreshToken(client: Client, scope: readonly string[]): boolean {
  if (!client.grantTypes.includes('refresh_token')) return false;
  return !scope.includes('openid') || scope.includes('offline_access');
}
