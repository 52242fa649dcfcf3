import type { ServerContext } from '../context.ts';
import type { FormParams } from '../lib/form-params.ts';
import type { Client } from '../registry/types.ts';
import type { TokenResponse } from './token-response.ts';

/** A grant type handler: one file per grant, one line in grants/index.ts. */
export interface GrantHandler {
  grantType: string;
  handle(ctx: ServerContext, client: Client, params: FormParams): Promise<TokenResponse>;
}
