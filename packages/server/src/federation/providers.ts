import type { ServerContext } from '../context.ts';
import { RegistryError } from '../errors.ts';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { checkFetchableUrl } from '../lib/outbound-fetch.ts';

/** The public half of a provider's `private_key_jwt` key, as a JWKS for the provider to fetch or be given. */
export function publicJwks(provider: UpstreamProvider): { keys: JWK[] } {
  if (!provider.privateJwk) return { keys: [] };
  const { d: _d, ...publicJwk } = provider.privateJwk;
  return { keys: [publicJwk] };
}

/**
 * The upstream OpenID providers users may sign in with (issue 16), registered by the operator (the CLI
 * and, later, the admin API call these). The client secret Latchkey presents to the provider is kept
 * encrypted with the LATCHKEY_SECRET key; it is never shown again.
 */

export interface UpstreamProvider {
  /** A short name in URLs and the CLI: `google`, `corp-sso`. */
  id: string;
  issuer: string;
  clientId: string;
  /** Null: no secret (`private_key_jwt`, or a public client with PKCE only). */
  clientSecret: string | null;
  /** Latchkey's key for `private_key_jwt` (RFC 7523) at this provider; null: not used. */
  privateJwk: JWK | null;
  scopes: string[];
  displayName: string;
  /** Link a first sign-in to the local user with the same address, when the provider says it is verified. */
  linkByEmail: boolean;
  /** A first sign-in without a local user to link creates one; false: it is refused (link only). */
  createUsers: boolean;
  createdAt: number;
}

export interface AddProviderInput {
  id: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** Authenticate with `private_key_jwt`: Latchkey makes an ES256 key pair for this provider. */
  privateKeyJwt?: boolean;
  scopes?: string[];
  displayName: string;
  linkByEmail?: boolean;
  /** Default true; false: only existing local users (by link or verified address) sign in this way. */
  createUsers?: boolean;
}

const ID = /^[a-z0-9][a-z0-9-]{0,39}$/;
const aad = (id: string) => `upstream-provider:${id}`;

export async function addProvider(ctx: ServerContext, input: AddProviderInput): Promise<UpstreamProvider> {
  if (!ID.test(input.id)) throw new RegistryError('a provider id is 1-40 of a-z 0-9 - (starting with a letter or digit)', 'invalid');
  const issuer = checkIssuer(ctx, input.issuer);
  if (input.clientId.trim() === '' || input.clientId.length > 400) throw new RegistryError('the client id is 1-400 characters', 'invalid');
  const displayName = input.displayName.trim();
  if (displayName === '' || displayName.length > 100) throw new RegistryError('the display name is 1-100 characters', 'invalid');
  const scopes = input.scopes && input.scopes.length > 0 ? input.scopes : ['openid', 'email', 'profile'];
  if (!scopes.includes('openid')) throw new RegistryError('the scopes must include openid (an ID token says who signed in)', 'invalid');
  const now = ctx.now();
  const secret = input.clientSecret?.trim() ? input.clientSecret.trim() : null;
  if (secret !== null && input.privateKeyJwt) throw new RegistryError('give a client secret or private_key_jwt, not both', 'invalid');
  const privateJwk: JWK | null = input.privateKeyJwt ? await providerKey() : null;
  const result = await ctx.storage.db.kysely
    .insertInto('upstream_providers')
    .values({
      id: input.id,
      issuer,
      client_id: input.clientId.trim(),
      client_secret_enc: secret === null ? null : ctx.encryption.encrypt(secret, aad(input.id)),
      private_jwk_enc: privateJwk === null ? null : ctx.encryption.encrypt(JSON.stringify(privateJwk), `${aad(input.id)}:jwk`),
      scopes: scopes.join(' '),
      display_name: displayName,
      link_by_email: input.linkByEmail ? 1 : 0,
      create_users: input.createUsers === false ? 0 : 1,
      created_at: now,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) throw new RegistryError(`provider ${input.id} exists already`, 'conflict');
  return { id: input.id, issuer, clientId: input.clientId.trim(), clientSecret: secret, privateJwk, scopes, displayName, linkByEmail: input.linkByEmail === true, createUsers: input.createUsers !== false, createdAt: now };
}

/**
 * Changes a provider in place (its links stay): the values given replace the old ones. `clientSecret`
 * given replaces the secret; `privateKeyJwt` true makes a key pair when it has none (a new jwks_uri
 * content to register at the provider), false drops it.
 */
export async function updateProvider(
  ctx: ServerContext,
  id: string,
  input: Partial<Omit<AddProviderInput, 'id'>>,
): Promise<UpstreamProvider> {
  const current = await findProvider(ctx, id);
  if (!current) throw new RegistryError(`no provider ${id}`, 'not_found');
  const issuer = input.issuer === undefined ? current.issuer : checkIssuer(ctx, input.issuer);
  const clientId = input.clientId === undefined ? current.clientId : input.clientId.trim();
  if (clientId === '' || clientId.length > 400) throw new RegistryError('the client id is 1-400 characters', 'invalid');
  const displayName = input.displayName === undefined ? current.displayName : input.displayName.trim();
  if (displayName === '' || displayName.length > 100) throw new RegistryError('the display name is 1-100 characters', 'invalid');
  const scopes = input.scopes === undefined ? current.scopes : input.scopes.length > 0 ? input.scopes : ['openid', 'email', 'profile'];
  if (!scopes.includes('openid')) throw new RegistryError('the scopes must include openid (an ID token says who signed in)', 'invalid');
  const secret = input.clientSecret === undefined ? current.clientSecret : input.clientSecret.trim() || null;
  const wantsKey = input.privateKeyJwt === undefined ? current.privateJwk !== null : input.privateKeyJwt;
  if (secret !== null && wantsKey) throw new RegistryError('give a client secret or private_key_jwt, not both', 'invalid');
  const privateJwk = wantsKey ? (current.privateJwk ?? (await providerKey())) : null;
  await ctx.storage.db.kysely
    .updateTable('upstream_providers')
    .set({
      issuer,
      client_id: clientId,
      client_secret_enc: secret === null ? null : ctx.encryption.encrypt(secret, aad(id)),
      private_jwk_enc: privateJwk === null ? null : ctx.encryption.encrypt(JSON.stringify(privateJwk), `${aad(id)}:jwk`),
      scopes: scopes.join(' '),
      display_name: displayName,
      link_by_email: (input.linkByEmail ?? current.linkByEmail) ? 1 : 0,
      create_users: (input.createUsers ?? current.createUsers) ? 1 : 0,
    })
    .where('id', '=', id)
    .execute();
  return (await findProvider(ctx, id))!;
}

/** The issuer without a trailing slash, refused when the fetcher would refuse it (unless loopback is allowed for tests). */
function checkIssuer(ctx: ServerContext, given: string): string {
  const issuer = given.trim().replace(/\/$/, '');
  const refused = checkFetchableUrl(issuer, 2000);
  if (refused && !(ctx.settings.allowLoopbackUpstream && /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(issuer))) {
    throw new RegistryError(`the issuer ${refused}`, 'invalid');
  }
  return issuer;
}

/** An ES256 key pair for private_key_jwt (RFC 7523) at a provider. */
async function providerKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  privateJwk.kid = await calculateJwkThumbprint(privateJwk);
  privateJwk.alg = 'ES256';
  privateJwk.use = 'sig';
  return privateJwk;
}

export async function listProviders(ctx: ServerContext): Promise<UpstreamProvider[]> {
  const rows = await ctx.storage.db.kysely.selectFrom('upstream_providers').selectAll().orderBy('display_name').execute();
  return rows.map((row) => ({
    id: row.id,
    issuer: row.issuer,
    clientId: row.client_id,
    clientSecret: row.client_secret_enc === null ? null : ctx.encryption.decrypt(row.client_secret_enc, aad(row.id), `the client secret of provider ${row.id}`),
    privateJwk: row.private_jwk_enc === null ? null : (JSON.parse(ctx.encryption.decrypt(row.private_jwk_enc, `${aad(row.id)}:jwk`, `the key of provider ${row.id}`)) as JWK),
    scopes: row.scopes.split(' '),
    displayName: row.display_name,
    linkByEmail: Number(row.link_by_email) === 1,
    createUsers: Number(row.create_users) === 1,
    createdAt: Number(row.created_at),
  }));
}

export async function findProvider(ctx: ServerContext, id: string): Promise<UpstreamProvider | undefined> {
  if (!ID.test(id)) return undefined;
  return (await listProviders(ctx)).find((p) => p.id === id);
}

/** Removes a provider and its links (its users keep their accounts, without that way in). */
export async function removeProvider(ctx: ServerContext, id: string): Promise<{ links: number }> {
  const result = await ctx.storage.db.kysely.deleteFrom('upstream_providers').where('id', '=', id).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new RegistryError(`no provider ${id}`, 'not_found');
  const links = await ctx.storage.db.kysely.deleteFrom('user_links').where('provider_id', '=', id).executeTakeFirst();
  return { links: Number(links.numDeletedRows) };
}
