import { idTokenAlgorithmFor } from '../profiles/fapi2.ts';
import { InvalidGrant, InvalidScope, InvalidTarget } from '../errors.ts';
import type { Client } from '../registry/types.ts';
import { OIDC_SCOPES } from '../registry/oidc-scopes.ts';
import type { User } from '../storage/user-store.ts';
import { issueAccessToken } from '../tokens/access-token.ts';
import { tokenTypeOf, type Confirmation } from '../tokens/confirmation.ts';
import { issueIdToken } from '../tokens/id-token.ts';
import { userClaims } from '../users/claims.ts';
import { selectAudience } from './select-audience.ts';
import type { GrantDeps } from './grant.ts';
import type { TokenResponse } from './token-response.ts';
import type { Authentication } from '../users/authentication-context.ts';

/** Issuing a user's tokens: the keys, the userinfo URL, and the grant's record of its access tokens. */
export type UserTokenDeps = GrantDeps<'grants' | 'opaqueTokens', 'keys' | 'urls'>;

export interface UserTokenRequest {
  client: Client;
  grantId: string;
  user: User;
  /** The scopes of this access token (the grant's, or fewer on a narrowing refresh). */
  scope: string[];
  /** RFC 8707 `resource` parameters of the token request. */
  resources: string[];
  /**
   * What to do when the grant turns out revoked while the token is issued: `fail` (refresh: the
   * request is refused), or `answer-revoked` (the code redemption that won a race against its own
   * replay: it still answers, docs/security.md C26, but with tokens already revoked, docs/security.md C24).
   */
  onRevokedGrant: 'fail' | 'answer-revoked';
  /** The user's sign-in behind the grant: `auth_time` and the methods (`amr`, hence `acr`). */
  authentication: Authentication;
  nonce: string | null;
  /** What the access token is bound to (tokens/confirmation.ts); absent: a bearer token. */
  cnf: Confirmation | undefined;
}

/**
 * The access token (and, with `openid`, the ID token) issued to a user's client under a grant. API
 * scopes choose the audiences as for every grant (select-audience.ts); `openid` adds the userinfo
 * endpoint, the one API of the authorization server itself. The token is recorded under its grant,
 * so revoking the grant revokes it.
 */
export async function issueUserTokens(ctx: UserTokenDeps, request: UserTokenRequest): Promise<TokenResponse> {
  const { client, user, scope } = request;
  const oidcScopes = scope.filter((s) => OIDC_SCOPES.has(s));
  const apiScopes = scopesForResources(client, scope, request.resources);
  const selection = selectAudience(client, request.resources, apiScopes);
  const audience = [...selection.audience];
  if (oidcScopes.includes('openid')) audience.push(userinfoAudience(ctx));
  const tokenScope = [...oidcScopes, ...apiScopes];
  if (audience.length === 0) throw new InvalidScope('the scope names no API and not openid: a token would be good for nothing');
  const issued = await issueAccessToken(ctx.keys, ctx.storage.opaqueTokens, {
    format: selection.format,
    issuer: ctx.settings.issuer,
    subject: user.id,
    clientId: client.clientId,
    audience,
    scope: tokenScope,
    ttlSeconds: selection.ttlOverrideSeconds ?? ctx.settings.accessTokenTtlSeconds,
    ...(request.cnf ? { cnf: request.cnf } : {}),
    authentication: request.authentication,
  });
  // A revocation of the grant at this very moment either saw this token or is seen here.
  const live = await ctx.storage.grants.recordAccessToken(request.grantId, {
    jti: issued.jti,
    clientId: client.clientId,
    expiresAt: issued.expiresAt,
  });
  if (!live) {
    if (request.onRevokedGrant === 'fail') throw new InvalidGrant('the grant has been revoked');
    // The revocation ran before this token was recorded: revoke again, which now includes it.
    await ctx.storage.grants.revokeGrant(request.grantId, ctx.now());
  }
  const response: TokenResponse = {
    access_token: issued.token,
    token_type: tokenTypeOf(request.cnf),
    expires_in: issued.expiresIn,
    scope: tokenScope.join(' '),
  };
  if (oidcScopes.includes('openid')) {
    response.id_token = await issueIdToken(ctx.keys, {
      issuer: ctx.settings.issuer,
      clientId: client.clientId,
      alg: idTokenAlgorithmFor(client),
      subject: user.id,
      authentication: request.authentication,
      nonce: request.nonce,
      accessToken: issued.token,
      claims: userClaims(user, scope),
      ttlSeconds: ctx.settings.idTokenTtlSeconds,
      // Back-Channel Logout §2.1: the session the grant was made in, on refresh too.
      sid: (await ctx.storage.grants.findGrant(request.grantId))?.sid,
    });
  }
  return response;
}

/**
 * RFC 8707 §2.2 at the token endpoint: `resource` picks among the APIs the user granted scopes for,
 * never more. Each resource must own a granted scope, and the token carries only the scopes of those
 * picked. Without `resource`, every granted API scope. Throws invalid_target, so grants call it before
 * they spend a code or a refresh token.
 */
export function scopesForResources(client: Client, scope: readonly string[], resources: readonly string[]): string[] {
  const apiScopes = scope.filter((s) => !OIDC_SCOPES.has(s));
  if (resources.length === 0) return apiScopes;
  const owner = new Map(client.scopes.map((s) => [s.scope, s.resource]));
  for (const resource of resources) {
    if (!apiScopes.some((s) => owner.get(s) === resource)) {
      throw new InvalidTarget('the resource is not covered by the scopes the user granted');
    }
  }
  return apiScopes.filter((s) => resources.includes(owner.get(s) ?? ''));
}

/** The `aud` that lets an access token call the userinfo endpoint. */
export function userinfoAudience(ctx: Pick<UserTokenDeps, 'urls'>): string {
  return ctx.urls.endpoint('userinfo');
}
