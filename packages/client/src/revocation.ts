import type { ClientCore } from './lib/client-core.ts';
import { expectOk } from './lib/http.ts';

export interface RevokeOptions {
  /** RFC 7009 §2.1: `access_token` or `refresh_token`; only a hint. */
  tokenTypeHint?: 'access_token' | 'refresh_token' | undefined;
}

/**
 * RFC 7009 §2.1: revokes a token of this client. Revoking a refresh token at Latchkey ends the whole
 * grant, its access tokens included. An unknown or already revoked token is not an error (§2.2).
 */
export async function revoke(core: ClientCore, token: string, options: RevokeOptions = {}): Promise<void> {
  const url = await core.endpoint('revocation_endpoint', 'revocation');
  const response = await core.post(url, { token, token_type_hint: options.tokenTypeHint });
  await expectOk(response, 'the revocation endpoint');
  await response.body?.cancel();
}
