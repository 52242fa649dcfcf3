import type { TlsClientAuthSubject } from '../mtls/subject.ts';
import { nowSeconds } from '../lib/clock.ts';
import type SQLite from 'better-sqlite3';
import type { JSONWebKeySet } from 'jose';
import type { Kysely, Transaction } from 'kysely';
import type { Client, ClientProfile, ClientSource, ClientType, IdTokenAlgorithm, TokenEndpointAuthMethod } from '../registry/types.ts';
import type { ClientRow, Database } from './schema.ts';
import { bumpVersion, FactVersion } from './fact-version.ts';
import { toInt, toIntOrNull } from './values.ts';

/** What a new client is stored as: scopes by name, audiences by resource id. */
export interface NewClient {
  clientId: string;
  name: string;
  type: ClientType;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  secretHash: string | null;
  grantTypes: string[];
  scopes: string[];
  audienceResourceIds: string[];
  createdAt: number;
  /** Browser-flow settings; default to none (a machine-to-machine client). */
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  oidcScopes?: string[];
  firstParty?: boolean;
  idTokenSignedResponseAlg?: IdTokenAlgorithm;
  /** Resource ids of the APIs the client acts for (may introspect their tokens). */
  resourceServerFor?: string[];
  /** private_key_jwt: the client's public keys, inline or by URL. */
  jwks?: JSONWebKeySet | null;
  jwksUri?: string | null;
  refreshGraceSeconds?: number | null;
  /** RFC 9449 §5.2: token requests must carry a DPoP proof; default false. */
  dpopBoundAccessTokens?: boolean;
  /** RFC 8705 §2.1.2: a tls_client_auth client's certificate subject. */
  tlsClientAuth?: TlsClientAuthSubject | null;
  /** RFC 8705 §3.4: access tokens bound to the client's certificate; default false. */
  tlsClientCertificateBoundAccessTokens?: boolean;
  /** RFC 9126 §6: authorization requests must be pushed; default false. */
  requirePushedAuthorizationRequests?: boolean;
  /** The client's users must sign in with two factors. */
  requireSecondFactor?: boolean;
  /** The client's users must sign in with a passkey. */
  requirePasskey?: boolean;
  /** default or fapi2; default default. */
  profile?: ClientProfile;
  /** Who registered it; default operator. */
  source?: ClientSource;
  /** Back-Channel Logout §2.2: where logout tokens are posted; default none. */
  backchannelLogoutUri?: string | null;
  backchannelLogoutSessionRequired?: boolean;
}

/** The id belonged to a client that was deleted; ids are never reused. */
export class ClientIdRetired extends Error {
  readonly clientId: string;

  constructor(clientId: string) {
    super(`client id ${clientId} belonged to a deleted client and cannot be reused`);
    this.clientId = clientId;
  }
}

/** Registered client ids are at most this long (registry/registry.ts). */
const MAX_CLIENT_ID_LENGTH = 128;

/** Clients kept in memory at most; past that the cache starts over. */
const MAX_CACHED_CLIENTS = 10_000;

/**
 * Registered clients, with the scopes and audiences they may ask for. `find` is on every
 * authenticated request, so clients are kept in memory, each copy tagged with the registry version it
 * was read at: one cheap read of the version tells whether any resource or client changed since, on
 * this node or any other (the CLI, another server), and a change drops the copy.
 */
export class ClientStore {
  private readonly version: FactVersion;
  private readonly cache = new Map<string, { version: number; client: Client }>();

  private readonly db: Kysely<Database>;

  constructor(
    db: Kysely<Database>,
    sqlite?: SQLite.Database,
  ) {
    this.db = db;
    this.version = new FactVersion(db, sqlite, 'registry_version');
  }

  /**
   * Inserts the client. Throws ClientIdRetired for the id of a deleted client. `within` runs in the same
   * transaction after the insert (a registration's own rows, storage/client-registration-store.ts):
   * when it throws, nothing is stored.
   */
  async create(client: NewClient, within?: (trx: Transaction<Database>, clientId: string) => Promise<void>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const retired = await trx
        .selectFrom('deleted_client_ids')
        .select('client_id')
        .where('client_id', '=', client.clientId)
        .executeTakeFirst();
      if (retired) throw new ClientIdRetired(client.clientId);
      await trx
        .insertInto('clients')
        .values({
          client_id: client.clientId,
          ...clientColumns(client),
          created_at: client.createdAt,
          secret_rotated_at: null,
          source: client.source ?? 'operator',
        })
        .execute();
      await insertPermissionsOf(trx, client);
      await within?.(trx, client.clientId);
      await bumpVersion(trx, 'registry_version');
    });
  }

  /**
   * Replaces everything about the client but its id, source and creation time (RFC 7592 §2.2: the new
   * values "replace, not augment" the old), with `within` in the same transaction. Users' consents to
   * the client are forgotten: they agreed to the client as it was (its name, its redirect URIs), so
   * they are asked again. False, with nothing changed, when there is no such client.
   */
  async replace(client: NewClient, within?: (trx: Transaction<Database>, clientId: string) => Promise<void>): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.updateTable('clients').set(clientColumns(client)).where('client_id', '=', client.clientId).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      for (const table of ['client_scopes', 'client_resource_servers', 'client_audiences'] as const) {
        await trx.deleteFrom(table).where('client_id', '=', client.clientId).execute();
      }
      await trx.deleteFrom('consents').where('client_id', '=', client.clientId).execute();
      await insertPermissionsOf(trx, client);
      await within?.(trx, client.clientId);
      await bumpVersion(trx, 'registry_version');
      return true;
    });
  }

  private origins: { version: number; origins: ReadonlySet<string> } | undefined;

  /**
   * The origins (scheme, host, port) of every registered redirect URI: the web applications that
   * may call the token, revocation and userinfo endpoints from a browser (CORS). Cached per registry
   * version, like clients.
   */
  async redirectOrigins(): Promise<ReadonlySet<string>> {
    const version = await this.version.current();
    if (this.origins && this.origins.version === version) return this.origins.origins;
    const rows = await this.db.selectFrom('clients').select('redirect_uris').execute();
    const origins = new Set<string>();
    for (const row of rows) {
      for (const uri of JSON.parse(row.redirect_uris) as string[]) {
        const { protocol, origin } = new URL(uri);
        if (protocol === 'https:' || protocol === 'http:') origins.add(origin);
      }
    }
    this.origins = { version, origins };
    return origins;
  }

  /** One client with its scopes and audiences, or undefined. Read on every authenticated request. */
  async find(clientId: string): Promise<Client | undefined> {
    // No stored id is longer than 128 characters or holds NUL (PostgreSQL text cannot), so such a
    // request needs no query at all.
    if (clientId.length > MAX_CLIENT_ID_LENGTH || clientId.includes('\u0000')) return undefined;
    // The version is read before the client, so a copy is never tagged newer than its data.
    const version = await this.version.current();
    const cached = this.cache.get(clientId);
    if (cached && cached.version === version) return cached.client;
    const client = await this.load(clientId);
    // Only clients that exist are kept, under the id read from the database: unknown ids sent by
    // anyone cannot fill the cache, evict real clients, or pin request bodies in memory.
    if (client) {
      if (this.cache.size >= MAX_CACHED_CLIENTS) this.cache.clear();
      this.cache.set(client.clientId, { version, client });
    }
    return client;
  }

  private async load(clientId: string): Promise<Client | undefined> {
    const row = await this.db.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    if (!row) return undefined;
    // docs/security.md L77: a client that registered itself has only the scopes that are open to such
    // clients now; a scope the operator closes later is gone from it at once, whatever it registered.
    const selfRegistered = (row.source ?? 'operator') !== 'operator';
    const [scopes, audiences, introspects] = await Promise.all([
      this.db
        .selectFrom('client_scopes as cs')
        .innerJoin('resource_scopes as rs', 'rs.scope', 'cs.scope')
        .innerJoin('resources as r', 'r.id', 'rs.resource_id')
        .select(['cs.scope as scope', 'r.identifier as resource', 'rs.open_to_registered as open'])
        .where('cs.client_id', '=', clientId)
        .orderBy('cs.scope')
        .execute()
        .then((rows) => rows.filter((r) => !selfRegistered || Number(r.open) === 1).map(({ scope, resource }) => ({ scope, resource }))),
      this.db
        .selectFrom('client_audiences as ca')
        .innerJoin('resources as r', 'r.id', 'ca.resource_id')
        .select(['r.identifier as identifier', 'r.access_token_ttl_seconds as ttl', 'r.access_token_format as format'])
        .where('ca.client_id', '=', clientId)
        .orderBy('r.identifier')
        .execute(),
      this.db
        .selectFrom('client_resource_servers as crs')
        .innerJoin('resources as r', 'r.id', 'crs.resource_id')
        .select('r.identifier as identifier')
        .where('crs.client_id', '=', clientId)
        .orderBy('r.identifier')
        .execute(),
    ]);
    return toClient(
      row,
      scopes,
      audiences.map((a) => ({
        identifier: a.identifier,
        accessTokenTtlSeconds: toIntOrNull(a.ttl),
        accessTokenFormat: a.format === 'opaque' ? ('opaque' as const) : ('jwt' as const),
      })),
      introspects.map((i) => i.identifier),
    );
  }

  async list(): Promise<Client[]> {
    const ids = await this.db.selectFrom('clients').select('client_id').orderBy('created_at').orderBy('client_id').execute();
    const clients: Client[] = [];
    for (const { client_id } of ids) {
      const client = await this.load(client_id);
      if (client) clients.push(client);
    }
    return clients;
  }

  /** Sets the client's own refresh grace window (null: its type's default). False for an unknown client. */
  async updateRefreshGrace(clientId: string, seconds: number | null): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.updateTable('clients').set({ refresh_grace_seconds: seconds }).where('client_id', '=', clientId).executeTakeFirst();
      await bumpVersion(trx, 'registry_version');
      return Number(result.numUpdatedRows) > 0;
    });
  }

  /** Sets whether the client must push its authorization requests (RFC 9126 §6). False for an unknown client. */
  async updateRequirePushedAuthorizationRequests(clientId: string, required: boolean): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('clients')
        .set({ require_pushed_authorization_requests: required ? 1 : 0 })
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      await bumpVersion(trx, 'registry_version');
      return Number(result.numUpdatedRows) > 0;
    });
  }

  /** Sets whether the client's users must sign in with two factors. False for an unknown client. */
  async updateRequireSecondFactor(clientId: string, required: boolean): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.updateTable('clients').set({ require_second_factor: required ? 1 : 0 }).where('client_id', '=', clientId).executeTakeFirst();
      await bumpVersion(trx, 'registry_version');
      return Number(result.numUpdatedRows) > 0;
    });
  }

  /** Sets whether the client's users must sign in with a passkey. False for an unknown client. */
  async updateRequirePasskey(clientId: string, required: boolean): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.updateTable('clients').set({ require_passkey: required ? 1 : 0 }).where('client_id', '=', clientId).executeTakeFirst();
      await bumpVersion(trx, 'registry_version');
      return Number(result.numUpdatedRows) > 0;
    });
  }

  /** Sets the client's back-channel logout URI (null: none) and whether it needs `sid`. False for an unknown client. */
  async updateBackchannelLogout(clientId: string, uri: string | null, sessionRequired: boolean): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('clients')
        .set({ backchannel_logout_uri: uri, backchannel_logout_session_required: sessionRequired ? 1 : 0 })
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      await bumpVersion(trx, 'registry_version');
      return Number(result.numUpdatedRows) > 0;
    });
  }

  /** Sets the client's security profile. False for an unknown client. */
  async updateProfile(clientId: string, profile: ClientProfile): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.updateTable('clients').set({ profile }).where('client_id', '=', clientId).executeTakeFirst();
      await bumpVersion(trx, 'registry_version');
      return Number(result.numUpdatedRows) > 0;
    });
  }

  async updateSecretHash(clientId: string, secretHash: string, rotatedAt: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('clients')
        .set({ secret_hash: secretHash, secret_rotated_at: rotatedAt })
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      await bumpVersion(trx, 'registry_version');
      return Number(result.numUpdatedRows) > 0;
    });
  }

  /**
   * Deletes the client; its scope and audience grants go with it (foreign keys). The id is kept as
   * retired, so no later client can take it over along with the tokens still out in its name.
   */
  async delete(clientId: string, now = nowSeconds()): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
      const deleted = Number(result.numDeletedRows) > 0;
      if (deleted) await trx.insertInto('deleted_client_ids').values({ client_id: clientId, deleted_at: now }).execute();
      await bumpVersion(trx, 'registry_version');
      return deleted;
    });
  }
}

/** The columns of a client row that registration sets (all but the id, source and timestamps). */
function clientColumns(client: NewClient) {
  return {
    name: client.name,
    type: client.type,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    secret_hash: client.secretHash,
    grant_types: JSON.stringify(client.grantTypes),
    redirect_uris: JSON.stringify(client.redirectUris ?? []),
    post_logout_redirect_uris: JSON.stringify(client.postLogoutRedirectUris ?? []),
    oidc_scopes: JSON.stringify(client.oidcScopes ?? []),
    first_party: client.firstParty ? 1 : 0,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg ?? 'RS256',
    jwks: client.jwks ? JSON.stringify(client.jwks) : null,
    jwks_uri: client.jwksUri ?? null,
    refresh_grace_seconds: client.refreshGraceSeconds ?? null,
    dpop_bound_access_tokens: client.dpopBoundAccessTokens ? 1 : 0,
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests ? 1 : 0,
    require_second_factor: client.requireSecondFactor ? 1 : 0,
    require_passkey: client.requirePasskey ? 1 : 0,
    profile: client.profile ?? 'default',
    tls_client_auth: client.tlsClientAuth ? JSON.stringify(client.tlsClientAuth) : null,
    tls_client_certificate_bound_access_tokens: client.tlsClientCertificateBoundAccessTokens ? 1 : 0,
    backchannel_logout_uri: client.backchannelLogoutUri ?? null,
    backchannel_logout_session_required: client.backchannelLogoutSessionRequired ? 1 : 0,
  };
}

/** The client's scopes, the APIs it acts for and its audiences. */
async function insertPermissionsOf(trx: Transaction<Database>, client: NewClient): Promise<void> {
  if (client.scopes.length > 0) {
    await trx
      .insertInto('client_scopes')
      .values(client.scopes.map((scope) => ({ client_id: client.clientId, scope })))
      .execute();
  }
  if (client.resourceServerFor && client.resourceServerFor.length > 0) {
    await trx
      .insertInto('client_resource_servers')
      .values(client.resourceServerFor.map((resource_id) => ({ client_id: client.clientId, resource_id })))
      .execute();
  }
  if (client.audienceResourceIds.length > 0) {
    await trx
      .insertInto('client_audiences')
      .values(client.audienceResourceIds.map((resource_id) => ({ client_id: client.clientId, resource_id })))
      .execute();
  }
}

function toClient(row: ClientRow, scopes: Client['scopes'], audiences: Client['audiences'], introspectsFor: string[]): Client {
  return {
    clientId: row.client_id,
    name: row.name,
    type: row.type as ClientType,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as TokenEndpointAuthMethod,
    secretHash: row.secret_hash,
    grantTypes: JSON.parse(row.grant_types) as string[],
    scopes,
    audiences,
    createdAt: toInt(row.created_at),
    secretRotatedAt: toIntOrNull(row.secret_rotated_at),
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    postLogoutRedirectUris: JSON.parse(row.post_logout_redirect_uris) as string[],
    oidcScopes: JSON.parse(row.oidc_scopes) as string[],
    firstParty: Number(row.first_party) === 1,
    idTokenSignedResponseAlg: row.id_token_signed_response_alg === 'ES256' ? 'ES256' : 'RS256',
    introspectsFor,
    jwks: row.jwks === null ? null : (JSON.parse(row.jwks) as JSONWebKeySet),
    jwksUri: row.jwks_uri,
    refreshGraceSeconds: toIntOrNull(row.refresh_grace_seconds),
    source: toClientSource(row.source),
    dpopBoundAccessTokens: Number(row.dpop_bound_access_tokens) === 1,
    requirePushedAuthorizationRequests: Number(row.require_pushed_authorization_requests) === 1,
    requireSecondFactor: Number(row.require_second_factor) === 1,
    requirePasskey: Number(row.require_passkey) === 1,
    profile: row.profile === 'fapi2' ? 'fapi2' : 'default',
    tlsClientAuth: row.tls_client_auth === null ? null : (JSON.parse(row.tls_client_auth) as TlsClientAuthSubject),
    tlsClientCertificateBoundAccessTokens: Number(row.tls_client_certificate_bound_access_tokens) === 1,
    backchannelLogoutUri: row.backchannel_logout_uri ?? null,
    backchannelLogoutSessionRequired: Number(row.backchannel_logout_session_required) === 1,
  };
}

function toClientSource(value: string): ClientSource {
  return value === 'dynamic-registration' || value === 'metadata-document' ? value : 'operator';
}
