import { authorizationCodeGrant } from './authorization-code.ts';
import { clientCredentialsGrant } from './client-credentials.ts';
import { deviceCodeGrant } from './device-code.ts';
import type { GrantHandler } from './grant.ts';
import { refreshTokenGrant } from './refresh-token.ts';
import { tokenExchangeGrant } from './token-exchange.ts';

/** Every grant the token endpoint accepts. Discovery lists exactly these. */
export const GRANTS: ReadonlyMap<string, GrantHandler> = new Map<string, GrantHandler>(
  [authorizationCodeGrant, clientCredentialsGrant, deviceCodeGrant, refreshTokenGrant, tokenExchangeGrant].map((g) => [g.grantType, g]),
);

export type { GrantHandler } from './grant.ts';
