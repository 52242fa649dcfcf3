import { isDeepStrictEqual } from 'node:util';
import { DEVICE_CODE_GRANT } from '../registry/grant-types.ts';
import { defaultIdTokenAlgorithm } from '../profiles/fapi2.ts';
import { sha256 } from '../lib/random.ts';
import type { CurrentState } from './state.ts';
import type { Secrets } from './secrets.ts';
import type { ClientSpec, ConfigSpec, ProviderSpec, ResourceSpec, UserSpec } from './spec.ts';

/**
 * The plan of `latchkey apply`: what must change for the database to hold what the file declares.
 * Objects are matched by their identity (a resource's identifier, a client's id, a provider's id, a
 * username); an object in the database and not in the file is deleted only with --prune (users never).
 */

export type Kind = 'resource' | 'client' | 'provider' | 'user';

export interface FieldChange {
  field: string;
  /** Absent for a secret: a plan never shows one, only that it changes. */
  from?: unknown;
  to?: unknown;
  secret?: true;
}

export interface Change {
  kind: Kind;
  id: string;
  action: 'create' | 'update' | 'delete';
  /** For an update: the fields that differ. */
  fields: FieldChange[];
}

export interface Plan {
  changes: Change[];
  unchanged: { kind: Kind; id: string }[];
  /** Changes the file asks for that cannot be made: nothing is applied while there is one. */
  refused: { kind: Kind; id: string; message: string }[];
}

/** The file's objects against the database's: every create, update and (with prune) delete. */
export async function makePlan(
  desired: ConfigSpec,
  secrets: Secrets,
  current: CurrentState,
  options: { prune: boolean; passwordMatches: (username: string, password: string) => Promise<boolean> },
): Promise<Plan> {
  const plan: Plan = { changes: [], unchanged: [], refused: [] };
  // Scope owners, for a client whose audiences are left out: the file's resources over the database's.
  const owners = new Map<string, string>(current.scopeOwners);
  for (const r of [...current.spec.resources, ...desired.resources]) for (const s of r.scopes) owners.set(s.name, r.identifier);

  compare(plan, 'resource', desired.resources, current.spec.resources, (r) => r.identifier, resourceFields, options.prune);

  compare(plan, 'provider', desired.providers, current.spec.providers, (p) => p.id, providerFields, options.prune, (p, fields, exists) => {
    const secret = secrets.providers.get(p.id) ?? null;
    if (secret !== (current.providerSecrets.get(p.id) ?? null) && !(secret === null && !exists)) fields.push({ field: 'secret', secret: true });
  });

  for (const u of desired.users) {
    const found = current.spec.users.find((c) => c.username === u.username);
    const password = secrets.users.get(u.username);
    if (!found) {
      if (password === undefined) plan.refused.push({ kind: 'user', id: u.username, message: 'a new user needs password_from_env or password_from_file' });
      else plan.changes.push({ kind: 'user', id: u.username, action: 'create', fields: [] });
      continue;
    }
    const fields = diff(userFields(found), userFields(u));
    if (password !== undefined && !(await options.passwordMatches(u.username, password))) fields.push({ field: 'password', secret: true });
    record(plan, 'user', u.username, fields);
  }
  // Users are never deleted by apply: people sign up, and a user's account is theirs (disable them instead).

  compare(plan, 'client', desired.clients, current.spec.clients, (c) => c.client_id, (c) => clientFields(c, owners), options.prune, (c, fields, exists) => {
    const secret = secrets.clients.get(c.client_id);
    // As the registry has it: every confidential client has a secret, but one that signs with its key.
    if (c.type !== 'confidential' || authMethod(c) === 'private_key_jwt') {
      if (secret !== undefined) plan.refused.push({ kind: 'client', id: c.client_id, message: `a ${c.type} client with ${authMethod(c)} has no secret: remove secret_from_env/secret_from_file` });
      return;
    }
    const hash = current.clientSecretHashes.get(c.client_id) ?? null;
    if (secret === undefined) {
      if (!exists || hash === null) plan.refused.push({ kind: 'client', id: c.client_id, message: 'a confidential client needs secret_from_env or secret_from_file' });
      return;
    }
    if (!exists || hash !== sha256(secret)) fields.push({ field: 'secret', secret: true });
  });
  return plan;
}

/** Whether the plan changes anything. */
export function isEmpty(plan: Plan): boolean {
  return plan.changes.length === 0 && plan.refused.length === 0;
}

function compare<T>(
  plan: Plan,
  kind: Kind,
  desired: T[],
  current: T[],
  idOf: (t: T) => string,
  fieldsOf: (t: T) => Record<string, unknown>,
  prune: boolean,
  secretCheck?: (t: T, fields: FieldChange[], exists: boolean) => void,
): void {
  for (const want of desired) {
    const found = current.find((c) => idOf(c) === idOf(want));
    const fields = found ? diff(fieldsOf(found), fieldsOf(want)) : [];
    secretCheck?.(want, fields, found !== undefined);
    if (!found) plan.changes.push({ kind, id: idOf(want), action: 'create', fields: [] });
    else record(plan, kind, idOf(want), fields);
  }
  if (!prune) return;
  for (const have of current) {
    if (!desired.some((d) => idOf(d) === idOf(have))) plan.changes.push({ kind, id: idOf(have), action: 'delete', fields: [] });
  }
}

function record(plan: Plan, kind: Kind, id: string, fields: FieldChange[]): void {
  if (fields.length === 0) plan.unchanged.push({ kind, id });
  else plan.changes.push({ kind, id, action: 'update', fields });
}

function diff(from: Record<string, unknown>, to: Record<string, unknown>): FieldChange[] {
  return Object.keys(to)
    .filter((field) => !isDeepStrictEqual(from[field], to[field]))
    .map((field) => ({ field, from: from[field], to: to[field] }));
}

/** A list whose order means nothing, in one order. */
const set = (values: string[]): string[] => [...new Set(values)].sort();

function resourceFields(r: ResourceSpec): Record<string, unknown> {
  return {
    name: r.name,
    access_token_ttl_seconds: r.access_token_ttl_seconds,
    access_token_format: r.access_token_format,
    scopes: [...r.scopes].sort((a, b) => a.name.localeCompare(b.name)).map((s) => ({ name: s.name, description: s.description, default: s.default, open: s.open })),
  };
}

export function authMethod(c: ClientSpec): string {
  return c.token_endpoint_auth_method ?? (c.type === 'public' ? 'none' : 'client_secret_basic');
}

function clientFields(c: ClientSpec, owners: Map<string, string>): Record<string, unknown> {
  const scopes = set(c.scopes);
  const audiences = c.audiences ?? scopes.map((s) => owners.get(s)).filter((a): a is string => a !== undefined);
  return {
    name: c.name,
    type: c.type,
    token_endpoint_auth_method: authMethod(c),
    grant_types: set(c.grant_types.map((g) => (g === 'device_code' ? DEVICE_CODE_GRANT : g))),
    scopes,
    audiences: set(audiences),
    redirect_uris: set(c.redirect_uris),
    post_logout_redirect_uris: set(c.post_logout_redirect_uris),
    first_party: c.first_party,
    id_token_signed_response_alg: c.id_token_signed_response_alg ?? defaultIdTokenAlgorithm(c.profile),
    introspect_for: set(c.introspect_for),
    jwks_uri: c.jwks_uri,
    jwks: canonical(c.jwks),
    tls_client_auth: c.tls_client_auth,
    tls_client_certificate_bound_access_tokens: c.tls_client_certificate_bound_access_tokens,
    dpop_bound_access_tokens: c.dpop_bound_access_tokens,
    refresh_grace_seconds: c.refresh_grace_seconds,
    require_pushed_authorization_requests: c.require_pushed_authorization_requests,
    require_second_factor: c.require_second_factor,
    require_passkey: c.require_passkey,
    profile: c.profile,
    exchange: [...c.exchange].sort((a, b) => a.audience.localeCompare(b.audience)).map((e) => ({ audience: e.audience, scopes: set(e.scopes) })),
  };
}

function providerFields(p: ProviderSpec): Record<string, unknown> {
  return {
    issuer: p.issuer.trim().replace(/\/$/, ''),
    client_id: p.client_id,
    name: p.name,
    scopes: p.scopes,
    link_by_email: p.link_by_email,
    create_users: p.create_users,
    private_key_jwt: p.private_key_jwt,
  };
}

function userFields(u: UserSpec): Record<string, unknown> {
  return { email: u.email, name: u.name, disabled: u.disabled };
}

/** A JSON value with its object keys in one order, so two equal JWKS compare equal. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}
