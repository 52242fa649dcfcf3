import type { ServerContext } from '../context.ts';
import type { FormParams } from '../lib/form-params.ts';
import type { Client } from '../registry/types.ts';
import type { SenderProof } from '../tokens/confirmation.ts';
import type { Storage } from '../storage/storage.ts';
import type { TokenResponse } from './token-response.ts';

/**
 * What a grant (or a helper of grants) may use of the server: the settings and the clock, the other
 * parts of the context it names in `C`, and the stores it names in `S`. Each grant declares its own,
 * as fosite's handlers declare their storage interfaces; the token endpoint passes the whole context.
 */
export type GrantDeps<S extends keyof Storage = never, C extends keyof ServerContext = never> = Pick<ServerContext, 'settings' | 'now' | C> & {
  storage: Pick<Storage, S>;
};

/**
 * A grant type handler: one file per grant, one line in grants/index.ts. `sender` is what the request
 * proved about its sender (a DPoP key): the access token is bound to it (tokens/confirmation.ts).
 */
export interface GrantHandler<D = ServerContext> {
  grantType: string;
  handle(deps: D, client: Client, params: FormParams, sender: SenderProof): Promise<TokenResponse>;
}
