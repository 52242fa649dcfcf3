import { parseDocument } from 'yaml';
import type { AccessTokenFormat, ClientProfile, ClientType, IdTokenAlgorithm, TokenEndpointAuthMethod } from '../registry/types.ts';
import type { TlsClientAuthSubject } from '../mtls/subject.ts';

/**
 * The configuration file of `latchkey apply` and `latchkey export` (README "Configuration as code"):
 * what the operator declares, checked for shape here (the registry checks the rules when it is applied).
 * Secrets are never in it: only where to read them (`secret_from_env`, `secret_from_file`).
 */

/** Where a secret is read from: an environment variable or a file (its content, trailing newline dropped). */
export type SecretRef = { env: string } | { file: string };

export interface ScopeSpec {
  name: string;
  description: string;
  default: boolean;
  open: boolean;
}

export interface ResourceSpec {
  identifier: string;
  name: string;
  access_token_ttl_seconds: number | null;
  access_token_format: AccessTokenFormat;
  scopes: ScopeSpec[];
}

export interface ExchangeSpec {
  audience: string;
  scopes: string[];
}

export interface ClientSpec {
  client_id: string;
  name: string;
  type: ClientType;
  token_endpoint_auth_method: TokenEndpointAuthMethod | undefined;
  grant_types: string[];
  scopes: string[];
  /** Undefined: the resources owning its scopes (as `clients create` does). */
  audiences: string[] | undefined;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  first_party: boolean;
  id_token_signed_response_alg: IdTokenAlgorithm | undefined;
  introspect_for: string[];
  jwks_uri: string | null;
  /** Public keys (inline `jwks`, or read from `jwks_file`). */
  jwks: unknown;
  tls_client_auth: TlsClientAuthSubject | null;
  tls_client_certificate_bound_access_tokens: boolean;
  dpop_bound_access_tokens: boolean;
  refresh_grace_seconds: number | null;
  require_pushed_authorization_requests: boolean;
  require_second_factor: boolean;
  require_passkey: boolean;
  profile: ClientProfile;
  /** RFC 8693 token exchange: what the client may obtain, per API. */
  exchange: ExchangeSpec[];
  secret: SecretRef | null;
}

export interface ProviderSpec {
  id: string;
  issuer: string;
  client_id: string;
  name: string;
  scopes: string[];
  link_by_email: boolean;
  create_users: boolean;
  private_key_jwt: boolean;
  secret: SecretRef | null;
}

export interface UserSpec {
  username: string;
  email: string | null;
  name: string | null;
  disabled: boolean;
  password: SecretRef | null;
}

export interface ConfigSpec {
  resources: ResourceSpec[];
  clients: ClientSpec[];
  providers: ProviderSpec[];
  users: UserSpec[];
}

/** A file that is not a valid configuration: names the place in it (`clients[2].redirect_uris[0]`). Exit code 2. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  readonly path: string;

  constructor(path: string, message: string) {
    super(path === '' ? message : `${path}: ${message}`);
    this.path = path;
  }
}

const TLS_KEYS = {
  tls_client_auth_subject_dn: 'subjectDn',
  tls_client_auth_san_dns: 'sanDns',
  tls_client_auth_san_uri: 'sanUri',
  tls_client_auth_san_ip: 'sanIp',
  tls_client_auth_san_email: 'sanEmail',
} as const;

/** Keys that would put a secret in the file: refused with the way to give it instead. */
const INLINE_SECRETS = new Set(['secret', 'client_secret', 'password', 'private_key', 'private_jwk']);

type Plain = Record<string, unknown>;

/** Parses and checks the file's text (YAML, JSON being a subset). `source` names it in errors. */
export function parseConfig(text: string, source: string): ConfigSpec {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    const where = problem.linePos?.[0];
    throw new ConfigFileError('', `${source}${where ? `:${where.line}:${where.col}` : ''}: not valid YAML: ${problem.message.split('\n')[0]}`);
  }
  const root: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const top = object(root, '', ['resources', 'clients', 'providers', 'users']);
  const spec: ConfigSpec = {
    resources: list(top.resources, 'resources').map((v, i) => resourceSpec(v, `resources[${i}]`)),
    clients: list(top.clients, 'clients').map((v, i) => clientSpec(v, `clients[${i}]`)),
    providers: list(top.providers, 'providers').map((v, i) => providerSpec(v, `providers[${i}]`)),
    users: list(top.users, 'users').map((v, i) => userSpec(v, `users[${i}]`)),
  };
  unique(spec.resources.map((r) => r.identifier), 'resources', 'identifier');
  unique(spec.clients.map((c) => c.client_id), 'clients', 'client_id');
  unique(spec.providers.map((p) => p.id), 'providers', 'id');
  unique(spec.users.map((u) => u.username.toLowerCase()), 'users', 'username');
  return spec;
}

function resourceSpec(value: unknown, path: string): ResourceSpec {
  const o = object(value, path, ['identifier', 'name', 'access_token_ttl_seconds', 'access_token_format', 'scopes']);
  const identifier = string(o.identifier, `${path}.identifier`);
  if (identifier.startsWith('urn:latchkey:')) throw new ConfigFileError(`${path}.identifier`, 'urn:latchkey: resources are built in: not declared in the file');
  const scopes = list(o.scopes, `${path}.scopes`).map((s, i) => scopeSpec(s, `${path}.scopes[${i}]`));
  unique(scopes.map((s) => s.name), `${path}.scopes`, 'name');
  return {
    identifier,
    name: optionalString(o.name, `${path}.name`) ?? identifier,
    access_token_ttl_seconds: optionalInteger(o.access_token_ttl_seconds, `${path}.access_token_ttl_seconds`),
    access_token_format: oneOf(o.access_token_format, `${path}.access_token_format`, ['jwt', 'opaque'] as const) ?? 'jwt',
    scopes,
  };
}

/** A scope: its name alone, or `{name, description, default, open}`. */
function scopeSpec(value: unknown, path: string): ScopeSpec {
  if (typeof value === 'string') return { name: string(value, path), description: '', default: false, open: false };
  const o = object(value, path, ['name', 'description', 'default', 'open']);
  return {
    name: string(o.name, `${path}.name`),
    description: optionalString(o.description, `${path}.description`) ?? '',
    default: flag(o.default, `${path}.default`),
    open: flag(o.open, `${path}.open`),
  };
}

const CLIENT_KEYS = [
  'client_id',
  'name',
  'type',
  'token_endpoint_auth_method',
  'grant_types',
  'scopes',
  'audiences',
  'redirect_uris',
  'post_logout_redirect_uris',
  'first_party',
  'id_token_signed_response_alg',
  'introspect_for',
  'jwks_uri',
  'jwks',
  'jwks_file',
  ...Object.keys(TLS_KEYS),
  'tls_client_certificate_bound_access_tokens',
  'dpop_bound_access_tokens',
  'refresh_grace_seconds',
  'require_pushed_authorization_requests',
  'require_second_factor',
  'require_passkey',
  'profile',
  'exchange',
  'secret_from_env',
  'secret_from_file',
];

function clientSpec(value: unknown, path: string): ClientSpec {
  const o = object(value, path, CLIENT_KEYS);
  const tls = Object.entries(TLS_KEYS).filter(([key]) => o[key] !== undefined);
  if (tls.length > 1) throw new ConfigFileError(`${path}.${tls[1]![0]}`, `give one certificate subject, not ${tls.map(([k]) => k).join(' and ')}`);
  if (o.jwks !== undefined && o.jwks_file !== undefined) throw new ConfigFileError(`${path}.jwks_file`, 'give jwks or jwks_file, not both');
  if (o.jwks !== undefined && (typeof o.jwks !== 'object' || o.jwks === null || Array.isArray(o.jwks))) {
    throw new ConfigFileError(`${path}.jwks`, 'must be a JWKS object ({keys: [...]})');
  }
  const exchange = list(o.exchange, `${path}.exchange`).map((e, i) => {
    const at = `${path}.exchange[${i}]`;
    const x = object(e, at, ['audience', 'scopes']);
    return { audience: string(x.audience, `${at}.audience`), scopes: strings(x.scopes, `${at}.scopes`, true) };
  });
  unique(exchange.map((e) => e.audience), `${path}.exchange`, 'audience');
  return {
    client_id: string(o.client_id, `${path}.client_id`),
    name: string(o.name, `${path}.name`),
    type: oneOf(o.type, `${path}.type`, ['confidential', 'public'] as const, true)!,
    token_endpoint_auth_method: optionalString(o.token_endpoint_auth_method, `${path}.token_endpoint_auth_method`) as TokenEndpointAuthMethod | undefined,
    grant_types: strings(o.grant_types, `${path}.grant_types`),
    scopes: strings(o.scopes, `${path}.scopes`),
    audiences: o.audiences === undefined ? undefined : strings(o.audiences, `${path}.audiences`),
    redirect_uris: strings(o.redirect_uris, `${path}.redirect_uris`),
    post_logout_redirect_uris: strings(o.post_logout_redirect_uris, `${path}.post_logout_redirect_uris`),
    first_party: flag(o.first_party, `${path}.first_party`),
    id_token_signed_response_alg: oneOf(o.id_token_signed_response_alg, `${path}.id_token_signed_response_alg`, ['RS256', 'ES256'] as const),
    introspect_for: strings(o.introspect_for, `${path}.introspect_for`),
    jwks_uri: optionalString(o.jwks_uri, `${path}.jwks_uri`) ?? null,
    jwks: o.jwks ?? (o.jwks_file === undefined ? null : { file: string(o.jwks_file, `${path}.jwks_file`) }),
    tls_client_auth: tls.length === 0 ? null : ({ [tls[0]![1]]: string(o[tls[0]![0]], `${path}.${tls[0]![0]}`) } as TlsClientAuthSubject),
    tls_client_certificate_bound_access_tokens: flag(o.tls_client_certificate_bound_access_tokens, `${path}.tls_client_certificate_bound_access_tokens`),
    dpop_bound_access_tokens: flag(o.dpop_bound_access_tokens, `${path}.dpop_bound_access_tokens`),
    refresh_grace_seconds: optionalInteger(o.refresh_grace_seconds, `${path}.refresh_grace_seconds`),
    require_pushed_authorization_requests: flag(o.require_pushed_authorization_requests, `${path}.require_pushed_authorization_requests`),
    require_second_factor: flag(o.require_second_factor, `${path}.require_second_factor`),
    require_passkey: flag(o.require_passkey, `${path}.require_passkey`),
    profile: oneOf(o.profile, `${path}.profile`, ['default', 'fapi2'] as const) ?? 'default',
    exchange,
    secret: secretRef(o, path, 'secret'),
  };
}

function providerSpec(value: unknown, path: string): ProviderSpec {
  const o = object(value, path, ['id', 'issuer', 'client_id', 'name', 'scopes', 'link_by_email', 'create_users', 'private_key_jwt', 'secret_from_env', 'secret_from_file']);
  const secret = secretRef(o, path, 'secret');
  const privateKeyJwt = flag(o.private_key_jwt, `${path}.private_key_jwt`);
  if (secret !== null && privateKeyJwt) throw new ConfigFileError(`${path}.private_key_jwt`, 'give a client secret or private_key_jwt, not both');
  const scopes = strings(o.scopes, `${path}.scopes`);
  return {
    id: string(o.id, `${path}.id`),
    issuer: string(o.issuer, `${path}.issuer`),
    client_id: string(o.client_id, `${path}.client_id`),
    name: string(o.name, `${path}.name`),
    scopes: scopes.length > 0 ? scopes : ['openid', 'email', 'profile'],
    link_by_email: flag(o.link_by_email, `${path}.link_by_email`),
    create_users: o.create_users === undefined ? true : flag(o.create_users, `${path}.create_users`),
    private_key_jwt: privateKeyJwt,
    secret,
  };
}

function userSpec(value: unknown, path: string): UserSpec {
  const o = object(value, path, ['username', 'email', 'name', 'disabled', 'password_from_env', 'password_from_file']);
  return {
    username: string(o.username, `${path}.username`).toLowerCase(),
    email: optionalString(o.email, `${path}.email`) ?? null,
    name: optionalString(o.name, `${path}.name`) ?? null,
    disabled: flag(o.disabled, `${path}.disabled`),
    password: secretRef(o, path, 'password'),
  };
}

/** `<what>_from_env: NAME` or `<what>_from_file: PATH` (one of them), or none. */
function secretRef(o: Plain, path: string, what: 'secret' | 'password'): SecretRef | null {
  const env = o[`${what}_from_env`];
  const file = o[`${what}_from_file`];
  if (env !== undefined && file !== undefined) throw new ConfigFileError(`${path}.${what}_from_file`, `give ${what}_from_env or ${what}_from_file, not both`);
  if (env !== undefined) {
    const name = string(env, `${path}.${what}_from_env`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigFileError(`${path}.${what}_from_env`, 'must be the name of an environment variable');
    return { env: name };
  }
  if (file !== undefined) return { file: string(file, `${path}.${what}_from_file`) };
  return null;
}

function object(value: unknown, path: string, keys: readonly string[]): Plain {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigFileError(path, `must be a mapping (key: value), not ${kind(value)}`);
  for (const key of Object.keys(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (INLINE_SECRETS.has(key)) {
      const ref = key === 'password' ? 'password_from_env or password_from_file' : 'secret_from_env or secret_from_file';
      throw new ConfigFileError(at, `secrets are never written in the file: use ${ref}`);
    }
    if (!keys.includes(key)) throw new ConfigFileError(at, `unknown key (expected one of: ${keys.join(', ')})`);
  }
  return value as Plain;
}

function list(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigFileError(path, `must be a list, not ${kind(value)}`);
  return value;
}

function strings(value: unknown, path: string, required = false): string[] {
  if (required && (value === undefined || value === null)) throw new ConfigFileError(path, 'is required');
  return list(value, path).map((v, i) => string(v, `${path}[${i}]`));
}

function string(value: unknown, path: string): string {
  if (value === undefined || value === null) throw new ConfigFileError(path, 'is required');
  if (typeof value !== 'string') throw new ConfigFileError(path, `must be a string, not ${kind(value)}`);
  if (value.trim() === '') throw new ConfigFileError(path, 'must not be empty');
  return value;
}

function optionalString(value: unknown, path: string): string | undefined {
  return value === undefined || value === null ? undefined : string(value, path);
}

function optionalInteger(value: unknown, path: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ConfigFileError(path, `must be a whole number, not ${kind(value)}`);
  return value;
}

function flag(value: unknown, path: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new ConfigFileError(path, `must be true or false, not ${kind(value)}`);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], required = false): T | undefined {
  if ((value === undefined || value === null) && !required) return undefined;
  const text = string(value, path);
  if (!(allowed as readonly string[]).includes(text)) throw new ConfigFileError(path, `must be one of ${allowed.join(', ')}`);
  return text as T;
}

function unique(values: string[], path: string, key: string): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) throw new ConfigFileError(`${path}[${i}].${key}`, `${JSON.stringify(v)} is declared twice`);
    seen.add(v);
  });
}

function kind(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}
