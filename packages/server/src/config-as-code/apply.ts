import type { ServerContext } from '../context.ts';
import { RegistryError } from '../errors.ts';
import { addProvider, removeProvider, updateProvider } from '../federation/providers.ts';
import type { CreateClientInput, Registry } from '../registry/registry.ts';
import { UserRegistry } from '../users/user-registry.ts';
import type { Change, Kind, Plan } from './plan.ts';
import type { Secrets } from './secrets.ts';
import type { ClientSpec, ConfigSpec, ProviderSpec, ResourceSpec } from './spec.ts';
import type { CurrentState } from './state.ts';

/**
 * Carries out a plan (plan.ts) through the same registry functions the CLI's commands call, one change
 * at a time: resources first (clients name their scopes), then providers, users and clients, then the
 * deletions (clients before the resources they use). The stores keep each write in its own transaction,
 * so a change the registry refuses stops the run there: ApplyError lists what was done before it.
 */
export class ApplyError extends RegistryError {
  readonly done: string[];

  constructor(done: string[], failed: string, cause: RegistryError) {
    super(`${failed}: ${cause.message}`, cause.code);
    this.done = done;
  }
}

const ORDER: [Kind, Change['action']][] = [
  ['resource', 'create'],
  ['resource', 'update'],
  ['provider', 'create'],
  ['provider', 'update'],
  ['user', 'create'],
  ['user', 'update'],
  ['client', 'create'],
  ['client', 'update'],
  ['client', 'delete'],
  ['resource', 'delete'],
  ['provider', 'delete'],
];

export async function applyPlan(ctx: ServerContext, registry: Registry, plan: Plan, desired: ConfigSpec, secrets: Secrets, current: CurrentState): Promise<string[]> {
  if (plan.refused.length > 0) throw new RegistryError(plan.refused.map((r) => `${r.kind} ${r.id}: ${r.message}`).join('; '), 'invalid');
  const users = new UserRegistry(ctx.storage);
  const done: string[] = [];
  for (const [kind, action] of ORDER) {
    for (const change of plan.changes.filter((c) => c.kind === kind && c.action === action)) {
      const what = `${action} ${kind} ${change.id}`;
      try {
        await applyChange(ctx, registry, users, change, desired, secrets, current);
      } catch (err) {
        if (err instanceof RegistryError) throw new ApplyError(done, what, err);
        throw err;
      }
      done.push(what);
    }
  }
  return done;
}

async function applyChange(
  ctx: ServerContext,
  registry: Registry,
  users: UserRegistry,
  change: Change,
  desired: ConfigSpec,
  secrets: Secrets,
  current: CurrentState,
): Promise<void> {
  const changed = new Set(change.fields.map((f) => f.field));
  switch (change.kind) {
    case 'resource': {
      if (change.action === 'delete') return registry.deleteResource(change.id);
      const r = desired.resources.find((d) => d.identifier === change.id)!;
      if (change.action === 'create') {
        await registry.createResource({ identifier: r.identifier, name: r.name, scopes: scopeInputs(r), accessTokenTtlSeconds: r.access_token_ttl_seconds, accessTokenFormat: r.access_token_format });
        return;
      }
      await registry.updateResource(r.identifier, {
        ...(changed.has('name') ? { name: r.name } : {}),
        ...(changed.has('access_token_ttl_seconds') ? { accessTokenTtlSeconds: r.access_token_ttl_seconds } : {}),
        ...(changed.has('access_token_format') ? { accessTokenFormat: r.access_token_format } : {}),
        ...(changed.has('scopes') ? { scopes: scopeInputs(r) } : {}),
      });
      return;
    }
    case 'provider': {
      if (change.action === 'delete') {
        await removeProvider(ctx, change.id);
        return;
      }
      const p = desired.providers.find((d) => d.id === change.id)!;
      const secret = secrets.providers.get(p.id);
      if (change.action === 'create') {
        await addProvider(ctx, { ...providerInput(p), id: p.id, ...(secret !== undefined ? { clientSecret: secret } : {}) });
        return;
      }
      await updateProvider(ctx, p.id, { ...providerInput(p), ...(changed.has('secret') ? { clientSecret: secret ?? '' } : {}) });
      return;
    }
    case 'user': {
      const u = desired.users.find((d) => d.username === change.id)!;
      const password = secrets.users.get(u.username);
      if (change.action === 'create') {
        await users.create({ username: u.username, password: password!, ...(u.email !== null ? { email: u.email } : {}), ...(u.name !== null ? { name: u.name } : {}) });
        if (u.disabled) await users.disable(u.username);
        return;
      }
      if (changed.has('email') || changed.has('name')) {
        await users.update(u.username, { ...(changed.has('email') ? { email: u.email } : {}), ...(changed.has('name') ? { name: u.name } : {}) });
      }
      if (changed.has('password')) await users.setPassword(u.username, password!);
      if (changed.has('disabled')) await (u.disabled ? users.disable(u.username) : users.enable(u.username));
      return;
    }
    case 'client': {
      if (change.action === 'delete') return registry.deleteClient(change.id);
      const c = desired.clients.find((d) => d.client_id === change.id)!;
      const secret = secrets.clients.get(c.client_id);
      let before: ClientSpec['exchange'] = [];
      if (change.action === 'create') {
        await registry.createClient({ ...clientInput(c), clientId: c.client_id }, secret !== undefined ? { secret } : {});
      } else {
        before = current.spec.clients.find((k) => k.client_id === c.client_id)?.exchange ?? [];
        // Replacing forgets the users' consents: only when a registration field itself changed.
        if ([...changed].some((f) => f !== 'secret' && f !== 'exchange')) await registry.replaceClient(c.client_id, clientInput(c));
        if (changed.has('secret') && secret !== undefined) await registry.rotateSecret(c.client_id, secret);
      }
      for (const gone of before.filter((b) => !c.exchange.some((e) => e.audience === b.audience))) {
        await registry.disallowTokenExchange(c.client_id, gone.audience);
      }
      for (const e of c.exchange) {
        const had = before.find((b) => b.audience === e.audience);
        if (!had || [...had.scopes].sort().join(' ') !== [...new Set(e.scopes)].sort().join(' ')) await registry.allowTokenExchange(c.client_id, e.audience, e.scopes);
      }
      return;
    }
  }
}

function scopeInputs(r: ResourceSpec) {
  return r.scopes.map((s) => ({ scope: s.name, description: s.description, isDefault: s.default, openToRegisteredClients: s.open }));
}

function providerInput(p: ProviderSpec) {
  return { issuer: p.issuer, clientId: p.client_id, displayName: p.name, scopes: p.scopes, linkByEmail: p.link_by_email, createUsers: p.create_users, privateKeyJwt: p.private_key_jwt };
}

/** A client of the file as the registry takes it (`clients create` builds the same from its options). */
function clientInput(c: ClientSpec): Omit<CreateClientInput, 'clientId'> {
  return {
    name: c.name,
    type: c.type,
    grantTypes: c.grant_types,
    scopes: c.scopes,
    ...(c.audiences !== undefined ? { audiences: c.audiences } : {}),
    ...(c.token_endpoint_auth_method !== undefined ? { tokenEndpointAuthMethod: c.token_endpoint_auth_method } : {}),
    redirectUris: c.redirect_uris,
    postLogoutRedirectUris: c.post_logout_redirect_uris,
    firstParty: c.first_party,
    ...(c.id_token_signed_response_alg !== undefined ? { idTokenSignedResponseAlg: c.id_token_signed_response_alg } : {}),
    introspectFor: c.introspect_for,
    ...(c.jwks !== null ? { jwks: c.jwks } : {}),
    ...(c.jwks_uri !== null ? { jwksUri: c.jwks_uri } : {}),
    refreshGraceSeconds: c.refresh_grace_seconds,
    dpopBoundAccessTokens: c.dpop_bound_access_tokens,
    requirePushedAuthorizationRequests: c.require_pushed_authorization_requests,
    requireSecondFactor: c.require_second_factor,
    requirePasskey: c.require_passkey,
    profile: c.profile,
    ...(c.tls_client_auth !== null ? { tlsClientAuth: c.tls_client_auth } : {}),
    tlsClientCertificateBoundAccessTokens: c.tls_client_certificate_bound_access_tokens,
  };
}
