import { AUTHORIZATION_CODE_TTL_SECONDS } from '../config/defaults.ts';
import type { ServerContext } from '../context.ts';
import { randomId128, randomToken, sha256 } from '../lib/random.ts';
import type { Session } from '../storage/session-store.ts';
import type { AuthorizationRequest } from './authorization-request.ts';

/**
 * Records the grant ("this user allowed this client these scopes") and its authorization code: 256
 * random bits, stored only as a hash (docs/security.md C30), bound to the client, the redirect URI, the
 * PKCE challenge and the resources the request named, good for AUTHORIZATION_CODE_TTL_SECONDS. Returns the code.
 */
export async function issueAuthorizationCode(ctx: ServerContext, request: AuthorizationRequest, session: Session): Promise<string> {
  const code = randomToken(32);
  const now = ctx.now();
  const grantId = randomId128();
  const scope = request.scope.join(' ');
  await ctx.storage.grants.createWithCode(
    { id: grantId, clientId: request.client.clientId, userId: session.userId, scope, createdAt: now, revokedAt: null, sid: session.sid },
    {
      codeHash: sha256(code),
      grantId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      nonce: request.nonce,
      authTime: session.authTime,
      amr: session.amr,
      scope,
      // RFC 8707: the APIs the user was asked about; the token request may name only these (grants/authorization-code.ts).
      resources: request.resources,
      // RFC 9449 §10: only a DPoP proof by this key redeems the code (grants/authorization-code.ts).
      dpopJkt: request.dpopJkt ?? null,
      createdAt: now,
      expiresAt: now + AUTHORIZATION_CODE_TTL_SECONDS,
    },
  );
  return code;
}
