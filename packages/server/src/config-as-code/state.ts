import type { ServerContext } from '../context.ts';
import { listProviders } from '../federation/providers.ts';
import type { Registry } from '../registry/registry.ts';
import type { Client } from '../registry/types.ts';
import { UserRegistry } from '../users/user-registry.ts';
import type { ClientSpec, ConfigSpec, ProviderSpec, ResourceSpec, UserSpec } from './spec.ts';

/**
 * What the database holds, in the configuration's own shape (spec.ts), with each secret replaced by a
 * placeholder reference for the operator to fill (`secret_from_env: CLIENT_<ID>_SECRET`). Clients that
 * registered themselves (RFC 7591, metadata documents) are the applications' own business: not here.
 */
export interface CurrentState {
  spec: ConfigSpec;
  /** SHA-256 of each client's secret (how the registry keeps it), for "changed?" without the secret. */
  clientSecretHashes: Map<string, string | null>;
  /** Each provider's client secret (kept encrypted; decrypted here only to compare). */
  providerSecrets: Map<string, string | null>;
  /** The scopes of the built-in resources, and which resource owns each. */
  scopeOwners: Map<string, string>;
}

/** The namespace of Latchkey's own, built-in resources. */
export const BUILT_IN_PREFIX = 'urn:latchkey:';

export async function readState(ctx: ServerContext, registry: Registry): Promise<CurrentState> {
  const all = await registry.listResources();
  // Latchkey's own resources (urn:latchkey:..., such as the admin API's) are built in: not the file's to declare or prune.
  const builtIn = all.filter((r) => r.identifier.startsWith(BUILT_IN_PREFIX));
  const resources = all.filter((r) => !r.identifier.startsWith(BUILT_IN_PREFIX)).map(
    (r): ResourceSpec => ({
      identifier: r.identifier,
      name: r.name,
      access_token_ttl_seconds: r.accessTokenTtlSeconds,
      access_token_format: r.accessTokenFormat,
      scopes: r.scopes.map((s) => ({ name: s.scope, description: s.description, default: s.isDefault, open: s.openToRegisteredClients })),
    }),
  );
  const clientSecretHashes = new Map<string, string | null>();
  const clients: ClientSpec[] = [];
  for (const c of await registry.listClients()) {
    if (c.source !== 'operator') continue;
    clientSecretHashes.set(c.clientId, c.secretHash);
    clients.push(clientSpec(c, await registry.tokenExchangePolicies(c.clientId)));
  }
  const providerSecrets = new Map<string, string | null>();
  const providers = (await listProviders(ctx)).map((p): ProviderSpec => {
    providerSecrets.set(p.id, p.clientSecret);
    return {
      id: p.id,
      issuer: p.issuer,
      client_id: p.clientId,
      name: p.displayName,
      scopes: p.scopes,
      link_by_email: p.linkByEmail,
      create_users: p.createUsers,
      private_key_jwt: p.privateJwk !== null,
      secret: p.clientSecret === null ? null : { env: placeholder('PROVIDER', p.id) },
    };
  });
  const users = (await new UserRegistry(ctx.storage).list()).map(
    (u): UserSpec => ({ username: u.username, email: u.email, name: u.name, disabled: u.disabledAt !== null, password: null }),
  );
  const scopeOwners = new Map(builtIn.flatMap((r) => r.scopes.map((sc) => [sc.scope, r.identifier] as const)));
  return { spec: { resources, clients, providers, users }, clientSecretHashes, providerSecrets, scopeOwners };
}

function clientSpec(c: Client, exchange: { audience: string; scopes: string[] }[]): ClientSpec {
  return {
    client_id: c.clientId,
    name: c.name,
    type: c.type,
    token_endpoint_auth_method: c.tokenEndpointAuthMethod,
    grant_types: c.grantTypes,
    scopes: [...c.oidcScopes, ...c.scopes.map((s) => s.scope)],
    audiences: c.audiences.map((a) => a.identifier),
    redirect_uris: c.redirectUris,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    first_party: c.firstParty,
    id_token_signed_response_alg: c.idTokenSignedResponseAlg,
    introspect_for: c.introspectsFor,
    jwks_uri: c.jwksUri,
    jwks: c.jwks,
    tls_client_auth: c.tlsClientAuth,
    tls_client_certificate_bound_access_tokens: c.tlsClientCertificateBoundAccessTokens,
    dpop_bound_access_tokens: c.dpopBoundAccessTokens,
    refresh_grace_seconds: c.refreshGraceSeconds,
    require_pushed_authorization_requests: c.requirePushedAuthorizationRequests,
    require_second_factor: c.requireSecondFactor === true,
    require_passkey: c.requirePasskey === true,
    profile: c.profile,
    exchange: exchange.map((e) => ({ audience: e.audience, scopes: e.scopes })),
    secret: c.secretHash === null ? null : { env: placeholder('CLIENT', c.clientId) },
  };
}

/** `CLIENT_<ID>_SECRET`: the id upper-cased, anything but letters and digits as `_`. */
export function placeholder(kind: 'CLIENT' | 'PROVIDER', id: string): string {
  return `${kind}_${id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_SECRET`;
}
