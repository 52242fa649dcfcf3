import type { Transaction } from 'kysely';
import type { Settings } from '../config/defaults.ts';
import { clientMetadataHostList } from '../config/load.ts';
import type { ServerContext } from '../context.ts';
import type { Client, Resource } from '../registry/types.ts';
import { ClientIdRetired } from '../storage/client-store.ts';
import type { StoredMetadataDocument } from '../storage/client-metadata-store.ts';
import { isUniqueViolation } from '../storage/database.ts';
import type { Database } from '../storage/schema.ts';
import { checkClientIdUrl, isClientIdUrl } from './client-id-url.ts';
import { readMetadataDocument, type DocumentClient } from './document.ts';
import { ClientMetadataError } from './errors.ts';
import { fetchMetadataDocument } from './fetch-document.ts';

/**
 * The client a `client_id` names, for the authorization endpoint and for client authentication alike:
 * a stored client, or, for a Client Identifier URL (draft-ietf-oauth-client-id-metadata-document §3),
 * the client its metadata document describes.
 *
 * A document is fetched when none is kept or the kept one has expired (draft §5.2: its cache headers,
 * within LATCHKEY_CLIENT_METADATA_CACHE_MIN_SECONDS and _MAX_SECONDS). The client it describes is a
 * `clients` row with source `metadata-document` and the URL as client_id, which grants and consents
 * reference like any other; it is written (with the document, in one transaction) whenever the
 * document describes it differently, forgetting the consents users gave it (draft §8.4). An
 * operator who deletes the client retires its URL: it cannot be used again.
 *
 * Returns undefined for an unknown client_id, and for every URL when LATCHKEY_CLIENT_METADATA_DOCUMENTS
 * is `off`. Throws ClientMetadataError when the URL or its document cannot be used: never cached
 * (draft §5.2: "MUST NOT cache error responses").
 */
export async function findClient(ctx: ServerContext, clientId: string): Promise<Client | undefined> {
  if (!isClientIdUrl(clientId)) return ctx.storage.clients.find(clientId);
  if (ctx.settings.clientMetadataDocuments === 'off') return undefined;
  try {
    const refused = refusedUrl(ctx.settings, clientId);
    if (refused) throw new ClientMetadataError(refused);
    const kept = await ctx.storage.clientMetadata.find(clientId);
    if (kept && kept.expiresAt > ctx.now()) {
      const client = await ctx.storage.clients.find(clientId);
      if (client?.source === 'metadata-document') return client;
    }
    return await fetchShared(ctx, clientId);
  } catch (err) {
    if (err instanceof ClientMetadataError) ctx.logger.warn({ clientId, reason: err.message }, 'client metadata document refused');
    throw err;
  }
}

/** Why the settings refuse this client_id URL before anything is fetched, or undefined. */
function refusedUrl(settings: Settings, clientId: string): string | undefined {
  const problem = checkClientIdUrl(clientId, settings.allowLoopbackClientMetadata);
  if (problem) return `client_id URL ${problem}`;
  if (settings.clientMetadataDocuments === 'allowlist') {
    const host = new URL(clientId).hostname;
    if (!(clientMetadataHostList(settings.clientMetadataHosts ?? '') ?? []).includes(host)) {
      return `client_id host ${host} is not in LATCHKEY_CLIENT_METADATA_HOSTS`;
    }
  }
  return undefined;
}

/** Each server's fetches under way: concurrent requests naming one URL share one fetch. */
const fetching = new WeakMap<ServerContext, Map<string, Promise<Client>>>();

function fetchShared(ctx: ServerContext, clientId: string): Promise<Client> {
  let running = fetching.get(ctx);
  if (!running) {
    running = new Map();
    fetching.set(ctx, running);
  }
  let shared = running.get(clientId);
  if (!shared) {
    const map = running;
    shared = fetchAndStore(ctx, clientId).finally(() => map.delete(clientId));
    map.set(clientId, shared);
  }
  return shared;
}

/** Fetches the document, reads it into its client, and stores both. */
async function fetchAndStore(ctx: ServerContext, clientId: string): Promise<Client> {
  const fetchedAt = ctx.now();
  const fetched = await fetchMetadataDocument(clientId, ctx.settings);
  const resources = await ctx.storage.resources.list();
  const described = await readMetadataDocument(clientId, fetched.document, resources);
  const kept: StoredMetadataDocument = {
    document: fetched.document as Record<string, unknown>,
    fetchedAt,
    expiresAt: fetchedAt + fetched.lifetimeSeconds,
  };
  await storeClient(ctx, described, kept, resources);
  const client = await ctx.storage.clients.find(clientId);
  if (!client) throw new ClientMetadataError('the client was deleted while its document was stored');
  return client;
}

/** Writes the client row when it is new or described differently, and keeps the document with it. */
async function storeClient(ctx: ServerContext, described: DocumentClient, kept: StoredMetadataDocument, resources: readonly Resource[]): Promise<void> {
  const { clientId } = described;
  const keep = (trx?: Transaction<Database>) => ctx.storage.clientMetadata.save(clientId, kept, trx);
  let current = await ctx.storage.clients.find(clientId);
  if (!current) {
    try {
      await ctx.storage.clients.create({ ...described, createdAt: kept.fetchedAt }, keep);
      ctx.logger.info({ clientId }, 'client metadata document: new client');
      return;
    } catch (err) {
      if (err instanceof ClientIdRetired) throw new ClientMetadataError('the client was deleted by the operator: its client_id cannot be used again');
      // Another node stored it first: the row is there now.
      if (!isUniqueViolation(err)) throw err;
      current = await ctx.storage.clients.find(clientId);
      if (!current) throw new ClientMetadataError('the client was deleted while its document was stored');
    }
  }
  if (current.source !== 'metadata-document') throw new ClientMetadataError('the client_id belongs to a client registered otherwise');
  if (!describesDifferently(current, described, resources)) return keep();
  // Draft §8.4: "Significant changes to client metadata may affect the trust relationship ... and could
  // impact the validity of previously granted user consent": ClientStore.replace forgets consents.
  if (!(await ctx.storage.clients.replace({ ...described, createdAt: current.createdAt }, keep))) {
    throw new ClientMetadataError('the client was deleted while its document was stored');
  }
  ctx.logger.info({ clientId }, 'client metadata document changed: client updated, consents forgotten');
}

/** Whether the stored client differs from what the document now describes. */
function describesDifferently(current: Client, described: DocumentClient, resources: readonly Resource[]): boolean {
  const identifiers = new Map(resources.map((r) => [r.id, r.identifier]));
  const sorted = (values: readonly string[]) => JSON.stringify([...values].sort());
  return (
    current.name !== described.name ||
    current.type !== described.type ||
    current.tokenEndpointAuthMethod !== described.tokenEndpointAuthMethod ||
    sorted(current.grantTypes) !== sorted(described.grantTypes) ||
    JSON.stringify(current.redirectUris) !== JSON.stringify(described.redirectUris) ||
    sorted(current.oidcScopes) !== sorted(described.oidcScopes ?? []) ||
    sorted(current.scopes.map((s) => s.scope)) !== sorted(described.scopes) ||
    sorted(current.audiences.map((a) => a.identifier)) !== sorted(described.audienceResourceIds.map((id) => identifiers.get(id) ?? id)) ||
    JSON.stringify(current.jwks) !== JSON.stringify(described.jwks ?? null) ||
    current.jwksUri !== (described.jwksUri ?? null)
  );
}
