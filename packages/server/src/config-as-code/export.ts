import { stringify } from 'yaml';
import { defaultIdTokenAlgorithm } from '../profiles/fapi2.ts';
import { SUBJECT_METADATA } from '../mtls/subject.ts';
import type { ClientSpec, ConfigSpec, SecretRef } from './spec.ts';

/**
 * The configuration as a document for `latchkey export`: the same keys `latchkey apply` reads, values
 * at their default left out, each secret as a reference for the operator to fill (never the secret).
 */
export function exportDocument(spec: ConfigSpec): Record<string, unknown> {
  return {
    resources: spec.resources.map((r) =>
      compact({
        identifier: r.identifier,
        name: r.name === r.identifier ? undefined : r.name,
        access_token_ttl_seconds: r.access_token_ttl_seconds,
        access_token_format: r.access_token_format === 'jwt' ? undefined : r.access_token_format,
        scopes: r.scopes.map((s) =>
          s.description === '' && !s.default && !s.open ? s.name : compact({ name: s.name, description: s.description || undefined, default: s.default || undefined, open: s.open || undefined }),
        ),
      }),
    ),
    clients: spec.clients.map(clientDocument),
    providers: spec.providers.map((p) =>
      compact({
        id: p.id,
        issuer: p.issuer,
        client_id: p.client_id,
        name: p.name,
        scopes: p.scopes,
        link_by_email: p.link_by_email || undefined,
        create_users: p.create_users ? undefined : false,
        private_key_jwt: p.private_key_jwt || undefined,
        ...secretKeys(p.secret, 'secret'),
      }),
    ),
    users: spec.users.map((u) => compact({ username: u.username, email: u.email, name: u.name, disabled: u.disabled || undefined })),
  };
}

export function exportYaml(spec: ConfigSpec): string {
  return `# latchkey export: secrets are not exported; set each *_from_env variable (or use *_from_file) before applying.\n${stringify(exportDocument(spec), { lineWidth: 0 })}`;
}

function clientDocument(c: ClientSpec): Record<string, unknown> {
  const tls = c.tls_client_auth ? Object.entries(c.tls_client_auth)[0]! : undefined;
  const defaultMethod = c.type === 'public' ? 'none' : 'client_secret_basic';
  return compact({
    client_id: c.client_id,
    name: c.name,
    type: c.type,
    token_endpoint_auth_method: c.token_endpoint_auth_method === defaultMethod ? undefined : c.token_endpoint_auth_method,
    grant_types: c.grant_types,
    scopes: nonEmpty(c.scopes),
    audiences: nonEmpty(c.audiences ?? []),
    redirect_uris: nonEmpty(c.redirect_uris),
    post_logout_redirect_uris: nonEmpty(c.post_logout_redirect_uris),
    first_party: c.first_party || undefined,
    id_token_signed_response_alg: c.id_token_signed_response_alg === defaultIdTokenAlgorithm(c.profile) ? undefined : c.id_token_signed_response_alg,
    introspect_for: nonEmpty(c.introspect_for),
    jwks_uri: c.jwks_uri,
    jwks: c.jwks,
    ...(tls ? { [SUBJECT_METADATA[tls[0] as keyof typeof SUBJECT_METADATA]]: tls[1] } : {}),
    tls_client_certificate_bound_access_tokens: c.tls_client_certificate_bound_access_tokens || undefined,
    dpop_bound_access_tokens: c.dpop_bound_access_tokens || undefined,
    refresh_grace_seconds: c.refresh_grace_seconds,
    require_pushed_authorization_requests: c.require_pushed_authorization_requests || undefined,
    require_second_factor: c.require_second_factor || undefined,
    require_passkey: c.require_passkey || undefined,
    profile: c.profile === 'default' ? undefined : c.profile,
    exchange: nonEmpty(c.exchange),
    ...secretKeys(c.secret, 'secret'),
  });
}

function secretKeys(ref: SecretRef | null, what: string): Record<string, string> {
  if (ref === null) return {};
  return 'env' in ref ? { [`${what}_from_env`]: ref.env } : { [`${what}_from_file`]: ref.file };
}

function nonEmpty<T>(values: T[]): T[] | undefined {
  return values.length === 0 ? undefined : values;
}

/** Drops the keys whose value is undefined or null (the file's defaults). */
function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
}
