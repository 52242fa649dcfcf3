import { clientCredentialsGrant } from './client-credentials.ts';
import type { GrantHandler } from './grant.ts';

/** Every grant the token endpoint accepts. Discovery lists exactly these. */
export const GRANTS: ReadonlyMap<string, GrantHandler> = new Map([[clientCredentialsGrant.grantType, clientCredentialsGrant]]);

export type { GrantHandler } from './grant.ts';
