import { InvalidGrant, InvalidRequest, InvalidTarget, UnauthorizedClient } from '../errors.ts';
import { sha256 } from '../lib/random.ts';
import type { Client } from '../registry/types.ts';
import { confirmationOf, refreshBindingFor } from '../tokens/confirmation.ts';
import type { GrantDeps, GrantHandler } from './grant.ts';
import { verifyPkce } from '../authorize/pkce.ts';
import { startRefreshFamily } from './refresh-family.ts';
import { mayHaveRefreshToken } from './refresh-policy.ts';
import { issueUserTokens, scopesForResources, type UserTokenDeps } from './user-tokens.ts';

/** Redeeming a code: the codes and grants, the user, the tokens issued, the first refresh token. */
type AuthorizationCodeDeps = UserTokenDeps & GrantDeps<'grants' | 'users' | 'refreshTokens', 'logger' | 'macKey'>;

/** Longer than any code Latchkey issues (43 characters); longer input is not even hashed. */
const MAX_CODE_LENGTH = 200;

/**
 * OAuth 2.1 §4.1.3: the client exchanges the code for tokens. Every check that can fail without the
 * code being spent (client, redirect URI, PKCE) runs before the one atomic statement that spends it,
 * so a failed attempt consumes and revokes nothing (OAuth 2.1 §7.5.2); a second valid redemption
 * revokes everything issued under the code's grant (§4.1.3).
 */
export const authorizationCodeGrant: GrantHandler<AuthorizationCodeDeps> = {
  grantType: 'authorization_code',
  async handle(ctx, client, params, sender) {
    if (!client.grantTypes.includes('authorization_code')) {
      throw new UnauthorizedClient('the client is not allowed the authorization_code grant');
    }
    const code = params.get('code');
    if (code === undefined || code === '') throw new InvalidRequest('the code parameter is required');
    const invalid = new InvalidGrant('the authorization code is invalid, expired, or was issued to another client');
    if (code.length > MAX_CODE_LENGTH) throw invalid;
    const codeHash = sha256(code);
    const found = await ctx.storage.grants.peek(codeHash);
    if (!found) throw invalid;
    // docs/security.md C27: a code is bound to the client it was issued to.
    if (found.clientId !== client.clientId) throw invalid;
    // RFC 6749 §4.1.3: redirect_uri must be "identical" to the one of the authorization request.
    const redirectUri = params.get('redirect_uri');
    if (redirectUri !== undefined ? redirectUri !== found.redirectUri : !soleRedirectUri(client, found.redirectUri)) {
      throw new InvalidGrant('redirect_uri does not match the authorization request');
    }
    // RFC 7636 §4.6: the verifier must answer the challenge; a wrong or missing one is invalid_grant.
    if (!verifyPkce(found.codeChallenge, params.get('code_verifier'))) {
      throw new InvalidGrant('code_verifier does not match the code_challenge');
    }

    // RFC 9449 §10: with dpop_jkt in the authorization request, "the authorization server MUST ensure
    // that the key thumbprint in the DPoP proof matches the value of the dpop_jkt"; a code bound to
    // a key is worthless without a proof by that key (checked before the code is spent).
    if (found.dpopJkt != null && sender.dpopJkt !== found.dpopJkt) {
      throw new InvalidGrant('the authorization code is bound to another DPoP key, or the DPoP proof is missing');
    }

    // RFC 8707: a resource outside what the user granted fails here, before the code is spent.
    const resources = tokenResources(found.resources ?? [], params.getAll('resource'));
    scopesForResources(client, found.scope.split(' '), resources);

    const now = ctx.now();
    const redemption = await ctx.storage.grants.redeem(codeHash, now);
    if (redemption.status === 'replayed') {
      // OAuth 2.1 §4.1.3: "If an authorization code is used more than once, the authorization server
      // MUST deny the request and SHOULD revoke (when possible) all access tokens and refresh tokens
      // previously issued based on that authorization code."
      await ctx.storage.grants.revokeGrant(redemption.grantId, now);
      ctx.logger.warn({ clientId: client.clientId, grantId: redemption.grantId }, 'authorization code replayed: grant revoked');
      throw new InvalidGrant('the authorization code was used before');
    }
    if (redemption.status === 'invalid') throw invalid;
    const { grant, code: redeemed } = redemption;
    const user = await ctx.storage.users.findById(grant.userId);
    if (!user || user.disabledAt !== null) throw new InvalidGrant('the user is disabled');

    const scope = redeemed.scope.split(' ').filter((s) => s !== '');
    const response = await issueUserTokens(ctx, {
      client,
      grantId: grant.id,
      user,
      scope,
      resources,
      authentication: { time: redeemed.authTime, methods: redeemed.amr },
      nonce: redeemed.nonce,
      onRevokedGrant: 'answer-revoked',
      cnf: confirmationOf(sender),
    });
    if (mayHaveRefreshToken(client, scope)) {
      response.refresh_token = await startRefreshFamily(ctx, grant.id, redeemed.scope, { time: redeemed.authTime, methods: redeemed.amr }, now, refreshBindingFor(client.type, sender));
    }
    return response;
  },
};

/**
 * The resources of the token: RFC 8707 §2.2 lets the token request name the resources the token is
 * for. When the authorization request named resources, the user was asked about those APIs only, so
 * the token request may name only those (else invalid_target), and a token request that names none
 * gets all of them as the token's audience. A code of a request without `resource` leaves the choice
 * to the token request, as before (grants/user-tokens.ts).
 */
function tokenResources(codeResources: readonly string[], requested: string[]): string[] {
  if (codeResources.length === 0) return requested;
  for (const resource of requested) {
    if (!codeResources.includes(resource)) throw new InvalidTarget('the resource was not named in the authorization request');
  }
  return requested.length > 0 ? requested : [...codeResources];
}

/**
 * Without redirect_uri at the token endpoint, the code must have been issued for the client's only
 * registered URI (OIDC Core §3.1.3.2: the parameter is required when it was in the authorization
 * request; with one registered URI the one used is known either way, so leaving it out is accepted).
 */
function soleRedirectUri(client: Client, used: string): boolean {
  return client.redirectUris.length === 1 && client.redirectUris[0] === used;
}
