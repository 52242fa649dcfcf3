import { nowSeconds } from '../lib/clock.ts';
import { RegistryError } from '../errors.ts';
import { TOKEN_EXCHANGE_GRANT_TYPE } from './grant-types.ts';
import { isForeignKeyViolation } from '../storage/database.ts';
import type { Storage } from '../storage/storage.ts';
import type { TokenExchangePolicy } from './types.ts';


/**
 * Lets a client exchange tokens for `audience` with at most `scopes`, replacing what it was allowed
 * there before. The client must be confidential and registered for the token-exchange grant; the
 * scopes must belong to that API.
 */
export async function allowTokenExchange(storage: Storage, clientId: string, audience: string, scopes: string[]): Promise<TokenExchangePolicy> {
  const client = await storage.clients.find(clientId);
  if (!client) throw new RegistryError(`no client ${clientId}`, 'not_found');
  // RFC 8693 §2.1: "omitting client authentication allows for a compromised token to be leaked via an
  // STS to other parties." Only clients that authenticate may exchange (docs/security.md H57).
  if (client.type !== 'confidential') throw new RegistryError('only confidential clients may exchange tokens', 'invalid');
  if (!client.grantTypes.includes(TOKEN_EXCHANGE_GRANT_TYPE)) {
    throw new RegistryError(`the client is not registered for the ${TOKEN_EXCHANGE_GRANT_TYPE} grant`, 'invalid');
  }
  const resource = await storage.resources.findByIdentifier(audience);
  if (!resource) throw new RegistryError(`no resource ${audience}`, 'invalid');
  const unique = [...new Set(scopes)];
  if (unique.length === 0) throw new RegistryError('name the scopes the client may obtain for the resource', 'invalid');
  const own = new Set(resource.scopes.map((s) => s.scope));
  for (const scope of unique) {
    if (!own.has(scope)) throw new RegistryError(`scope "${scope}" does not belong to ${audience}`, 'invalid');
  }
  try {
    await storage.tokenExchange.allow(clientId, resource.id, unique, nowSeconds());
  } catch (err) {
    // The client, resource or a scope was deleted between the checks and the insert.
    if (isForeignKeyViolation(err)) throw new RegistryError('the client, resource or a scope was deleted meanwhile; try again', 'conflict');
    throw err;
  }
  return {
    audience,
    scopes: unique.sort(),
    accessTokenFormat: resource.accessTokenFormat,
    accessTokenTtlSeconds: resource.accessTokenTtlSeconds,
  };
}

/** Takes back a client's permission to exchange tokens for `audience`. */
export async function disallowTokenExchange(storage: Storage, clientId: string, audience: string): Promise<void> {
  const resource = await storage.resources.findByIdentifier(audience);
  if (!resource || !(await storage.tokenExchange.disallow(clientId, resource.id))) {
    throw new RegistryError(`client ${clientId} may not exchange tokens for ${audience}`, 'not_found');
  }
}
