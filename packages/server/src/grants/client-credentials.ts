import { UnauthorizedClient } from '../errors.ts';
import { issueAccessToken } from '../tokens/access-token.ts';
import { confirmationOf, tokenTypeOf } from '../tokens/confirmation.ts';
import type { GrantDeps, GrantHandler } from './grant.ts';
import { parseScope, selectAudience } from './select-audience.ts';

/**
 * RFC 6749 §4.4: the client asks for a token on its own behalf. Issuing a JWT (RFC 9068, the default)
 * writes nothing to the database; it is revocable later by its `jti`. Resources registered for opaque
 * tokens get a reference stored hashed instead.
 */
/** It signs with the keys, and stores only opaque tokens. */
type ClientCredentialsDeps = GrantDeps<'opaqueTokens', 'keys'>;

export const clientCredentialsGrant: GrantHandler<ClientCredentialsDeps> = {
  grantType: 'client_credentials',
  async handle(ctx, client, params, sender) {
    // RFC 6749 §4.4: "The client credentials grant type MUST only be used by confidential clients."
    if (client.type !== 'confidential') {
      throw new UnauthorizedClient('public clients cannot use the client_credentials grant');
    }
    if (!client.grantTypes.includes('client_credentials')) {
      throw new UnauthorizedClient('the client is not allowed the client_credentials grant');
    }
    // A client that registered itself has the grant only while the operator allows it
    // (LATCHKEY_REGISTRATION_ALLOW_CLIENT_CREDENTIALS): turning the setting off takes it back.
    if (client.source !== 'operator' && !ctx.settings.registrationAllowClientCredentials) {
      throw new UnauthorizedClient('self-registered clients may not use the client_credentials grant');
    }
    const selection = selectAudience(client, params.getAll('resource'), parseScope(params.get('scope')));
    const ttlSeconds = selection.ttlOverrideSeconds ?? ctx.settings.accessTokenTtlSeconds;
    const cnf = confirmationOf(sender);
    const issued = await issueAccessToken(ctx.keys, ctx.storage.opaqueTokens, {
      format: selection.format,
      issuer: ctx.settings.issuer,
      // RFC 9068 §2.2: with no resource owner, `sub` SHOULD be the client identifier. Client ids can
      // never have the UUID form of a user subject (registry/registry.ts), so the two cannot collide.
      subject: client.clientId,
      clientId: client.clientId,
      audience: selection.audience,
      scope: selection.scope,
      ttlSeconds,
      ...(cnf ? { cnf } : {}),
    });
    // RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included."
    return {
      access_token: issued.token,
      token_type: tokenTypeOf(cnf),
      expires_in: issued.expiresIn,
      scope: selection.scope.join(' '),
    };
  },
};
