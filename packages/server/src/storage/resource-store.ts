import type { Kysely } from 'kysely';
import type { Resource, ScopeDefinition } from '../registry/types.ts';
import type { Database, ResourceRow, ResourceScopeRow } from './schema.ts';
import { bumpVersion } from './fact-version.ts';
import { toInt, toIntOrNull } from './values.ts';

/** Resources (APIs) and the scopes they register. */
export class ResourceStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Inserts a resource with its scopes in one transaction. Unique violations propagate. */
  async create(resource: Resource): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('resources')
        .values({
          id: resource.id,
          identifier: resource.identifier,
          name: resource.name,
          access_token_ttl_seconds: resource.accessTokenTtlSeconds,
          access_token_format: resource.accessTokenFormat,
          created_at: resource.createdAt,
        })
        .execute();
      if (resource.scopes.length > 0) {
        await trx
          .insertInto('resource_scopes')
          .values(
            resource.scopes.map((s) => ({
              scope: s.scope,
              resource_id: resource.id,
              description: s.description,
              is_default: s.isDefault ? 1 : 0,
              open_to_registered: s.openToRegisteredClients ? 1 : 0,
            })),
          )
          .execute();
      }
      await bumpVersion(trx, 'registry_version');
    });
  }

  async list(): Promise<Resource[]> {
    const rows = await this.db.selectFrom('resources').selectAll().orderBy('identifier').execute();
    const scopes = await this.db.selectFrom('resource_scopes').selectAll().orderBy('scope').execute();
    return rows.map((row) => toResource(row, scopes.filter((s) => s.resource_id === row.id)));
  }

  async findByIdentifier(identifier: string): Promise<Resource | undefined> {
    const row = await this.db.selectFrom('resources').selectAll().where('identifier', '=', identifier).executeTakeFirst();
    if (!row) return undefined;
    const scopes = await this.db.selectFrom('resource_scopes').selectAll().where('resource_id', '=', row.id).orderBy('scope').execute();
    return toResource(row, scopes);
  }

  /** Names of scopes already registered, among those given. */
  async existingScopes(scopes: readonly string[]): Promise<string[]> {
    if (scopes.length === 0) return [];
    const rows = await this.db.selectFrom('resource_scopes').select('scope').where('scope', 'in', scopes).execute();
    return rows.map((r) => r.scope);
  }

  /** Every registered scope name, for discovery's `scopes_supported`. */
  async allScopeNames(): Promise<string[]> {
    const rows = await this.db.selectFrom('resource_scopes').select('scope').orderBy('scope').execute();
    return rows.map((r) => r.scope);
  }

  /**
   * Sets which of the resource's scopes are default and which are open to self-registered clients:
   * each list given names exactly the scopes that have the flag afterwards; a list left out changes
   * nothing. False when there is no such resource.
   */
  async updateScopeFlags(identifier: string, flags: { defaultScopes?: readonly string[]; openScopes?: readonly string[] }): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('resources').select('id').where('identifier', '=', identifier).executeTakeFirst();
      if (!row) return false;
      for (const [column, listed] of [['is_default', flags.defaultScopes], ['open_to_registered', flags.openScopes]] as const) {
        if (listed === undefined) continue;
        await trx.updateTable('resource_scopes').set({ [column]: 0 }).where('resource_id', '=', row.id).execute();
        if (listed.length > 0) {
          await trx.updateTable('resource_scopes').set({ [column]: 1 }).where('resource_id', '=', row.id).where('scope', 'in', listed).execute();
        }
      }
      await bumpVersion(trx, 'registry_version');
      return true;
    });
  }

  /**
   * Sets the resource's name, token lifetime and format given, and, when `scopes` is given, makes its
   * scopes exactly those (new ones added, missing ones removed with every client's grant of them, the
   * others' descriptions and flags set). False when there is no such resource; unique violations propagate.
   */
  async updateDetails(
    identifier: string,
    changes: { name?: string; accessTokenTtlSeconds?: number | null; accessTokenFormat?: 'jwt' | 'opaque'; scopes?: ScopeDefinition[] },
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('resources').select('id').where('identifier', '=', identifier).executeTakeFirst();
      if (!row) return false;
      const set = {
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.accessTokenTtlSeconds !== undefined ? { access_token_ttl_seconds: changes.accessTokenTtlSeconds } : {}),
        ...(changes.accessTokenFormat !== undefined ? { access_token_format: changes.accessTokenFormat } : {}),
      };
      if (Object.keys(set).length > 0) await trx.updateTable('resources').set(set).where('id', '=', row.id).execute();
      if (changes.scopes !== undefined) {
        const wanted = changes.scopes.map((s) => s.scope);
        const existing = (await trx.selectFrom('resource_scopes').select('scope').where('resource_id', '=', row.id).execute()).map((r) => r.scope);
        const gone = existing.filter((s) => !wanted.includes(s));
        if (gone.length > 0) await trx.deleteFrom('resource_scopes').where('resource_id', '=', row.id).where('scope', 'in', gone).execute();
        for (const s of changes.scopes) {
          const values = { description: s.description, is_default: s.isDefault ? 1 : 0, open_to_registered: s.openToRegisteredClients ? 1 : 0 };
          if (existing.includes(s.scope)) {
            await trx.updateTable('resource_scopes').set(values).where('resource_id', '=', row.id).where('scope', '=', s.scope).execute();
          } else {
            await trx.insertInto('resource_scopes').values({ scope: s.scope, resource_id: row.id, ...values }).execute();
          }
        }
      }
      await bumpVersion(trx, 'registry_version');
      return true;
    });
  }

  /** Deletes the resource; its scopes and every client's grant of them go with it (foreign keys). */
  async delete(identifier: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('resources').where('identifier', '=', identifier).executeTakeFirst();
      await bumpVersion(trx, 'registry_version');
      return Number(result.numDeletedRows) > 0;
    });
  }
}

function toResource(row: ResourceRow, scopes: ResourceScopeRow[]): Resource {
  return {
    id: row.id,
    identifier: row.identifier,
    name: row.name,
    accessTokenTtlSeconds: toIntOrNull(row.access_token_ttl_seconds),
    accessTokenFormat: row.access_token_format === 'opaque' ? 'opaque' : 'jwt',
    createdAt: toInt(row.created_at),
    scopes: scopes.map(
      (s): ScopeDefinition => ({
        scope: s.scope,
        description: s.description,
        isDefault: toInt(s.is_default) === 1,
        openToRegisteredClients: toInt(s.open_to_registered) === 1,
      }),
    ),
  };
}
