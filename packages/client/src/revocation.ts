import * as oauth from 'oauth4webapi';
import type { ClientCore } from './lib/client-core.ts';

export interface RevokeOptions {
  /** RFC 7009 §2.1: `access_token` or `refresh_token`; only a hint. */
  tokenTypeHint?: 'access_token' | 'refresh_token' | undefined;
}

/**
 * RFC 7009 §2.1: revokes a token of this client. Revoking a refresh token at Latchkey ends the whole
 * grant, its access tokens included. An unknown or already revoked token is not an error (§2.2).
 */
export async function revoke(core: ClientCore, token: string, options: RevokeOptions = {}): Promise<void> {
  await core.endpoint('revocation_endpoint', 'revocation');
  await core.call(
    'the revocation endpoint',
    ({ as, client, auth, options: requestOptions }) =>
      oauth.revocationRequest(as, client, auth, token, {
        ...requestOptions,
        ...(options.tokenTypeHint ? { additionalParameters: { token_type_hint: options.tokenTypeHint } } : {}),
      }),
    async (_step, response) => {
      await oauth.processRevocationResponse(response);
      await response.body?.cancel();
    },
    { dpop: false },
  );
}
