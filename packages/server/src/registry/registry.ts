import { nowSeconds } from '../lib/clock.ts';
import { randomBytes } from 'node:crypto';
import { RegistryError } from '../errors.ts';
import { registrationKeys } from '../client-auth/client-keys.ts';
import { CONFIDENTIAL_AUTH_METHODS } from '../client-auth/methods.ts';
import { randomIdentifier, randomToken, sha256 } from '../lib/random.ts';
import { isResourceIndicator, SCOPE_TOKEN } from '../lib/syntax.ts';
import { ADMIN_RESOURCE } from '../admin/admin-resource.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../storage/database.ts';
import { ClientIdRetired, type NewClient } from '../storage/client-store.ts';
import type { Database } from '../storage/schema.ts';
import type { Transaction } from 'kysely';
import type { Storage } from '../storage/storage.ts';
import type { AccessTokenFormat, Client, ClientProfile, ClientSource, ClientType, IdTokenAlgorithm, Resource, ScopeDefinition, TokenEndpointAuthMethod, TokenExchangePolicy } from './types.ts';
import { checkFapi2Registration, CLIENT_PROFILES, defaultIdTokenAlgorithm } from '../profiles/fapi2.ts';
import { isDistinguishedName, SUBJECT_METADATA, type TlsClientAuthSubject } from '../mtls/subject.ts';
import { MTLS_AUTH_METHODS } from '../client-auth/methods.ts';
import { isIP } from 'node:net';
import { OIDC_SCOPES } from './oidc-scopes.ts';
import { checkBackchannelLogoutUri } from './backchannel-logout-uri.ts';
import { checkRedirectUriForRegistration, redirectUriRules, type RedirectUriRules } from './redirect-uri.ts';
import { allowTokenExchange, disallowTokenExchange } from './token-exchange-policy.ts';
import { DEVICE_CODE_GRANT, GRANT_TYPES, TOKEN_EXCHANGE_GRANT_TYPE } from './grant-types.ts';

/** Grant types a client may be registered for: exactly those the token endpoint implements. */
export const REGISTRABLE_GRANT_TYPES: readonly string[] = GRANT_TYPES;

/** OpenID Connect's own scopes: built in, never registered by a resource. */
export const RESERVED_SCOPES = ['openid', 'profile', 'email', 'address', 'phone', 'offline_access'] as const;

/** Client ids: unreserved URI characters, so they survive Basic-auth and form encoding unchanged. */
const CLIENT_ID = /^[A-Za-z0-9._~-]{3,128}$/;
/** User subjects are UUIDs; a client id of that shape could collide with one (RFC 9700 §4.15). */
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A scope as given to createResource: the name, with the description and flags optional. */
export type ScopeInput = Pick<ScopeDefinition, 'scope'> & Partial<ScopeDefinition>;

export interface CreateResourceInput {
  identifier: string;
  name?: string;
  /** Names, or definitions whose flags default to false. */
  scopes: (string | ScopeInput)[];
  /** Scopes (among `scopes`) requested when a request names this resource and no scope. */
  defaultScopes?: string[];
  /** Scopes (among `scopes`) that self-registered clients may be granted. */
  openScopes?: string[];
  accessTokenTtlSeconds?: number | null;
  /** 'jwt' (default) or 'opaque'. */
  accessTokenFormat?: AccessTokenFormat;
}

export interface CreateClientInput {
  name: string;
  type: ClientType;
  clientId?: string;
  grantTypes: string[];
  scopes: string[];
  /** Resource identifiers; when omitted, the resources that own `scopes`. */
  audiences?: string[];
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** Exact redirect URIs; required with the authorization_code grant. */
  redirectUris?: string[];
  /** Where RP-initiated logout may return the browser (OIDC RP-Initiated Logout §3). */
  postLogoutRedirectUris?: string[];
  /** The operator's own application: users are not asked for consent. */
  firstParty?: boolean;
  /** RS256 (default) or ES256. */
  idTokenSignedResponseAlg?: IdTokenAlgorithm;
  /**
   * Identifiers of the APIs this client acts for: it may introspect every token issued for them
   * (an API's own credentials for RFC 7662). Confidential clients only.
   */
  introspectFor?: string[];
  /** private_key_jwt: the client's public keys (a JWKS object)... */
  jwks?: unknown;
  /** ...or the https URL they are published at. Exactly one of the two. */
  jwksUri?: string;
  /** The client's own refresh grace window in seconds (0-60); omitted: the default for its type. */
  refreshGraceSeconds?: number | null;
  /** RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request must carry a DPoP proof. */
  dpopBoundAccessTokens?: boolean;
  /** RFC 9126 §6 `require_pushed_authorization_requests`: authorization requests must be pushed. */
  requirePushedAuthorizationRequests?: boolean;
  /** The client's users must sign in with two factors (users/second-factor-policy.ts). */
  requireSecondFactor?: boolean;
  /** The client's users must sign in with a passkey (users/second-factor-policy.ts). */
  requirePasskey?: boolean;
  /** `default` (omitted) or `fapi2`: the FAPI 2.0 Security Profile (profiles/fapi2.ts); operators only. */
  profile?: ClientProfile;
  /** RFC 8705 §2.1.2: the certificate subject of a tls_client_auth client (exactly one kind). */
  tlsClientAuth?: TlsClientAuthSubject;
  /** RFC 8705 §3.4: bind the client's access tokens to its certificate (which it must then present). */
  tlsClientCertificateBoundAccessTokens?: boolean;
  /** Who registers it (default operator); any other source is held to the rules of self-registered clients. */
  source?: ClientSource;
  /** Back-Channel Logout §2.2: where logout tokens are posted (registry/backchannel-logout-uri.ts). */
  backchannelLogoutUri?: string | null;
  /** Back-Channel Logout §2.2: the client needs `sid` in its logout tokens (Latchkey always sends it for a session). */
  backchannelLogoutSessionRequired?: boolean;
}

export interface CreatedClient {
  client: Client;
  /** The secret in clear: shown once, stored only as its SHA-256 hash. Undefined for public clients. */
  clientSecret: string | undefined;
}

/** Registry of resources and clients: the rules of registration, over the storage. */
export class Registry {
  private readonly storage: Storage;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  async createResource(input: CreateResourceInput): Promise<Resource> {
    const identifier = input.identifier.trim();
    // RFC 8707 §2: a resource indicator is an absolute URI without a fragment (its `aud` in RFC 9068).
    if (!isResourceIndicator(identifier)) {
      throw new RegistryError('the resource identifier must be an absolute URI without a fragment', 'invalid');
    }
    const names = input.scopes.map((s) => (typeof s === 'string' ? s : s.scope));
    for (const [option, listed] of [['default', input.defaultScopes], ['open', input.openScopes]] as const) {
      const unknown = (listed ?? []).filter((s) => !names.includes(s));
      if (unknown.length > 0) throw new RegistryError(`${option} scope not among the resource's scopes: ${unknown.join(', ')}`, 'invalid');
    }
    const scopes = input.scopes.map((s): ScopeDefinition => {
      const given = typeof s === 'string' ? { scope: s } : s;
      return {
        scope: given.scope,
        description: given.description ?? '',
        isDefault: given.isDefault === true || (input.defaultScopes ?? []).includes(given.scope),
        openToRegisteredClients: given.openToRegisteredClients === true || (input.openScopes ?? []).includes(given.scope),
      };
    });
    checkScopeNames(names);
    if (await this.storage.resources.findByIdentifier(identifier)) throw new RegistryError(`resource ${identifier} exists already`, 'conflict');
    const taken = await this.storage.resources.existingScopes(names);
    if (taken.length > 0) throw new RegistryError(`scope already registered by another resource: ${taken.join(', ')}`, 'conflict');
    const ttl = input.accessTokenTtlSeconds ?? null;
    if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > 86400)) {
      throw new RegistryError('the access token lifetime must be between 1 and 86400 seconds', 'invalid');
    }
    const format = input.accessTokenFormat ?? 'jwt';
    if (format !== 'jwt' && format !== 'opaque') throw new RegistryError('the token format must be jwt or opaque', 'invalid');
    const resource: Resource = {
      id: randomIdentifier(12),
      identifier,
      name: input.name?.trim() || identifier,
      accessTokenTtlSeconds: ttl,
      accessTokenFormat: format,
      scopes,
      createdAt: nowSeconds(),
    };
    try {
      await this.storage.resources.create(resource);
    } catch (err) {
      if (isUniqueViolation(err)) throw new RegistryError(`resource ${identifier}, or one of its scopes, exists already`, 'conflict');
      throw err;
    }
    return resource;
  }

  listResources(): Promise<Resource[]> {
    return this.storage.resources.list();
  }

  async getResource(identifier: string): Promise<Resource> {
    const resource = await this.storage.resources.findByIdentifier(identifier);
    if (!resource) throw new RegistryError(`no resource ${identifier}`, 'not_found');
    return resource;
  }

  async deleteResource(identifier: string): Promise<void> {
    // The admin API's own resource (admin/admin-resource.ts): deleting it would lock every administrator out.
    if (identifier === ADMIN_RESOURCE) throw new RegistryError(`${ADMIN_RESOURCE} is built in: it cannot be deleted`, 'invalid');
    if (!(await this.storage.resources.delete(identifier))) throw new RegistryError(`no resource ${identifier}`, 'not_found');
  }

  /**
   * Changes a resource's name, token lifetime and token format (a value left out stays) and, when
   * `scopes` is given, makes its scopes exactly those: a scope left out is removed, and with it every
   * client's permission to ask for it. Tokens already issued keep what they were issued with.
   */
  async updateResource(
    identifier: string,
    input: { name?: string; accessTokenTtlSeconds?: number | null; accessTokenFormat?: AccessTokenFormat; scopes?: ScopeDefinition[] },
  ): Promise<Resource> {
    const resource = await this.getResource(identifier);
    const name = input.name === undefined ? undefined : input.name.trim() || identifier;
    const ttl = input.accessTokenTtlSeconds;
    if (ttl !== undefined && ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > 86400)) {
      throw new RegistryError('the access token lifetime must be between 1 and 86400 seconds', 'invalid');
    }
    const format = input.accessTokenFormat;
    if (format !== undefined && format !== 'jwt' && format !== 'opaque') throw new RegistryError('the token format must be jwt or opaque', 'invalid');
    if (input.scopes !== undefined) {
      const names = input.scopes.map((s) => s.scope);
      checkScopeNames(names);
      const added = names.filter((n) => !resource.scopes.some((s) => s.scope === n));
      const taken = await this.storage.resources.existingScopes(added);
      if (taken.length > 0) throw new RegistryError(`scope already registered by another resource: ${taken.join(', ')}`, 'conflict');
    }
    const changes = {
      ...(name !== undefined ? { name } : {}),
      ...(ttl !== undefined ? { accessTokenTtlSeconds: ttl } : {}),
      ...(format !== undefined ? { accessTokenFormat: format } : {}),
      ...(input.scopes !== undefined ? { scopes: input.scopes } : {}),
    };
    try {
      if (!(await this.storage.resources.updateDetails(identifier, changes))) throw new RegistryError(`no resource ${identifier}`, 'not_found');
    } catch (err) {
      if (isUniqueViolation(err)) throw new RegistryError('one of the scopes was registered by another resource meanwhile', 'conflict');
      throw err;
    }
    return this.getResource(identifier);
  }

  /**
   * Changes which of a resource's scopes are default (requested when an authorization request names
   * the resource and no scope, RFC 6749 §3.3) and which are open to self-registered clients. A list
   * given replaces that flag on all the resource's scopes (an empty one clears it); one left out keeps it.
   */
  async updateResourceScopes(identifier: string, input: { defaultScopes?: string[]; openScopes?: string[] }): Promise<Resource> {
    const resource = await this.getResource(identifier);
    const names = resource.scopes.map((s) => s.scope);
    for (const [option, listed] of [['default', input.defaultScopes], ['open', input.openScopes]] as const) {
      const unknown = (listed ?? []).filter((s) => !names.includes(s));
      if (unknown.length > 0) throw new RegistryError(`${option} scope not among the resource's scopes: ${unknown.join(', ')}`, 'invalid');
    }
    if (!(await this.storage.resources.updateScopeFlags(identifier, input))) throw new RegistryError(`no resource ${identifier}`, 'not_found');
    return this.getResource(identifier);
  }

  /**
   * Registers a client after every check below; `within` runs in the insert's own transaction (the rows
   * of a dynamic registration, registration/register.ts), so a failure there stores nothing.
   */
  async createClient(input: CreateClientInput, options: { within?: ClientWrite; secret?: string } = {}): Promise<CreatedClient> {
    const clientId = input.clientId ?? randomBytes(16).toString('hex');
    if (!CLIENT_ID.test(clientId) || UUID_SHAPE.test(clientId)) {
      throw new RegistryError('client id: 3-128 of A-Z a-z 0-9 . _ ~ -, and not shaped like a UUID', 'invalid');
    }
    const checked = await this.checkClient(input, clientId);
    // A private_key_jwt client proves itself with its keys: it gets no secret.
    if (options.secret !== undefined) checkGivenSecret(options.secret);
    const clientSecret = usesSecret(checked) ? (options.secret ?? randomToken(32)) : undefined;
    await this.store(clientId, () =>
      this.storage.clients.create(
        { ...checked, secretHash: clientSecret === undefined ? null : sha256(clientSecret), createdAt: nowSeconds() },
        options.within,
      ),
    );
    return { client: await this.getClient(clientId), clientSecret };
  }

  /**
   * Replaces a client's registration with `input`, checked as createClient checks a new one (RFC 7592
   * §2.2: the new values replace the old, and what is left out is gone). The id, source and creation
   * time stay. A client that keeps using a secret keeps its secret; one that starts using a secret gets
   * a new one, returned (shown once); one that stops using it loses it. Users' consents are forgotten.
   */
  async replaceClient(clientId: string, input: Omit<CreateClientInput, 'clientId'>, options: { within?: ClientWrite } = {}): Promise<CreatedClient> {
    const current = await this.getClient(clientId);
    if ((input.source ?? 'operator') !== current.source) throw new RegistryError('a client keeps the source it was registered by', 'invalid');
    const checked = await this.checkClient(input, clientId);
    let clientSecret: string | undefined;
    let secretHash: string | null = null;
    if (usesSecret(checked)) {
      if (current.secretHash !== null) secretHash = current.secretHash;
      else {
        clientSecret = randomToken(32);
        secretHash = sha256(clientSecret);
      }
    }
    const replaced = await this.store(clientId, () => this.storage.clients.replace({ ...checked, secretHash, createdAt: current.createdAt }, options.within));
    if (!replaced) throw new RegistryError(`no client ${clientId}`, 'not_found');
    return { client: await this.getClient(clientId), clientSecret };
  }

  /** Every registration rule, as the client row it makes (without its secret and creation time). */
  private async checkClient(input: CreateClientInput, clientId: string): Promise<Omit<NewClient, 'secretHash' | 'createdAt'>> {
    const name = input.name?.trim();
    if (!name) throw new RegistryError('a client needs a name', 'invalid');
    if (input.type !== 'confidential' && input.type !== 'public') {
      throw new RegistryError('the client type must be confidential or public', 'invalid');
    }
    const source = input.source ?? 'operator';
    if (source !== 'operator') checkSelfRegistered(input);
    const { grantTypes, userGrant, introspectFor } = checkGrants(input);
    const profile = checkProfile(input.profile);
    const { redirectUris, postLogoutRedirectUris, idTokenAlg } = checkBrowserSettings(input, grantTypes, profile);
    const method = checkAuthMethod(input);
    if (profile === 'fapi2') {
      checkFapi2Registration({ type: input.type, tokenEndpointAuthMethod: method, redirectUris, idTokenSignedResponseAlg: idTokenAlg, source });
    }
    const keys = await registrationKeys(method, input.jwks, input.jwksUri);
    const tlsClientAuth = checkTlsClientAuth(method, input.tlsClientAuth);
    const refreshGraceSeconds = checkRefreshGrace(input.refreshGraceSeconds ?? null);
    const { scopes, oidcScopes, audienceIds, byIdentifier } = await this.checkScopes(input, userGrant, introspectFor);
    return {
      clientId,
      name,
      type: input.type,
      tokenEndpointAuthMethod: method,
      grantTypes,
      scopes,
      audienceResourceIds: audienceIds.map((a) => byIdentifier.get(a)!.id),
      redirectUris,
      postLogoutRedirectUris,
      oidcScopes,
      firstParty: input.firstParty === true,
      idTokenSignedResponseAlg: idTokenAlg,
      resourceServerFor: introspectFor.map((a) => byIdentifier.get(a)!.id),
      jwks: keys.jwks,
      jwksUri: keys.jwksUri,
      refreshGraceSeconds,
      dpopBoundAccessTokens: input.dpopBoundAccessTokens === true,
      requirePushedAuthorizationRequests: input.requirePushedAuthorizationRequests === true,
      requireSecondFactor: input.requireSecondFactor === true,
      requirePasskey: input.requirePasskey === true,
      profile,
      tlsClientAuth,
      tlsClientCertificateBoundAccessTokens: input.tlsClientCertificateBoundAccessTokens === true,
      source,
      backchannelLogoutUri: checkBackchannelLogout(input.backchannelLogoutUri, input.type),
      backchannelLogoutSessionRequired: input.backchannelLogoutSessionRequired === true,
    };
  }

  /** Runs a client write, with the storage's refusals as registry errors. */
  private async store<T>(clientId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err)) throw new RegistryError(`client ${clientId} exists already`, 'conflict');
      if (err instanceof ClientIdRetired) throw new RegistryError(err.message, 'conflict');
      // A resource or scope deleted between the checks and the write.
      if (isForeignKeyViolation(err)) throw new RegistryError('a scope or audience was deleted meanwhile; try again', 'conflict');
      throw err;
    }
  }

  /**
   * The client's scopes, split into OpenID Connect's and the APIs', and its audiences (given, or the
   * resources that own its scopes): every scope registered on a resource among the audiences.
   */
  private async checkScopes(input: CreateClientInput, userGrant: boolean, introspectFor: string[]) {
    const requestedScopes = [...new Set(input.scopes)];
    const oidcScopes = requestedScopes.filter((s) => OIDC_SCOPES.has(s));
    const scopes = requestedScopes.filter((s) => !OIDC_SCOPES.has(s));
    for (const scope of scopes) {
      if ((RESERVED_SCOPES as readonly string[]).includes(scope)) {
        throw new RegistryError(`scope "${scope}" is not supported (OpenID Connect scopes: ${[...OIDC_SCOPES].join(', ')})`, 'invalid');
      }
    }
    if (oidcScopes.length > 0 && !userGrant) {
      throw new RegistryError('the OpenID Connect scopes need the authorization_code or device_code grant', 'invalid');
    }
    if (oidcScopes.some((s) => s !== 'openid') && !oidcScopes.includes('openid')) {
      throw new RegistryError('profile, email and offline_access need the openid scope', 'invalid');
    }
    const resources = await this.storage.resources.list();
    const owner = new Map(resources.flatMap((r) => r.scopes.map((s) => [s.scope, r] as const)));
    for (const scope of scopes) {
      if (!owner.has(scope)) throw new RegistryError(`scope "${scope}" is not registered on any resource`, 'invalid');
    }
    // docs/security.md L77: a client that registered itself gets only the scopes the operator opened to such clients.
    if ((input.source ?? 'operator') !== 'operator') {
      const closed = scopes.filter((s) => !owner.get(s)!.scopes.some((d) => d.scope === s && d.openToRegisteredClients));
      if (closed.length > 0) throw new RegistryError(`scope not open to registered clients: ${closed.join(' ')}`, 'invalid');
    }
    const audienceIds = input.audiences ? [...new Set(input.audiences)] : [...new Set(scopes.map((s) => owner.get(s)!.identifier))];
    const byIdentifier = new Map(resources.map((r) => [r.identifier, r]));
    for (const audience of [...audienceIds, ...introspectFor]) {
      if (!byIdentifier.has(audience)) throw new RegistryError(`no resource ${audience}`, 'invalid');
    }
    for (const scope of scopes) {
      if (!audienceIds.includes(owner.get(scope)!.identifier)) {
        throw new RegistryError(`scope "${scope}" belongs to ${owner.get(scope)!.identifier}, which is not among the audiences`, 'invalid');
      }
    }
    return { scopes, oidcScopes, audienceIds, byIdentifier };
  }

  listClients(): Promise<Client[]> {
    return this.storage.clients.list();
  }

  async getClient(clientId: string): Promise<Client> {
    const client = await this.storage.clients.find(clientId);
    if (!client) throw new RegistryError(`no client ${clientId}`, 'not_found');
    return client;
  }

  /**
   * Deletes the client: its grants are revoked first (their access tokens join the revocation list,
   * its opaque tokens are forgotten), then the client goes and its id is retired for good.
   */
  async deleteClient(clientId: string): Promise<void> {
    await this.getClient(clientId);
    const now = nowSeconds();
    await this.storage.grants.revokeAllForClient(clientId, now);
    await this.storage.opaqueTokens.deleteAllForClient(clientId);
    if (!(await this.storage.clients.delete(clientId, now))) throw new RegistryError(`no client ${clientId}`, 'not_found');
  }

  /**
   * RFC 8693: lets the client exchange tokens for the API `audience`, for at most `scopes` there
   * (replacing what it was allowed there before). See registry/token-exchange-policy.ts.
   */
  allowTokenExchange(clientId: string, audience: string, scopes: string[]): Promise<TokenExchangePolicy> {
    return allowTokenExchange(this.storage, clientId, audience, scopes);
  }

  /** Takes back the client's permission to exchange tokens for `audience`. */
  disallowTokenExchange(clientId: string, audience: string): Promise<void> {
    return disallowTokenExchange(this.storage, clientId, audience);
  }

  /** What the client may obtain by token exchange, per API; empty when it may not exchange. */
  async tokenExchangePolicies(clientId: string): Promise<TokenExchangePolicy[]> {
    await this.getClient(clientId);
    return this.storage.tokenExchange.policiesFor(clientId);
  }

  /**
   * Sets the client's refresh grace window: seconds (0-60) in which a retry with a just-rotated
   * refresh token gets the same new pair, or null for its type's default (grants/refresh-grace.ts).
   */
  async setRefreshGrace(clientId: string, seconds: number | null): Promise<Client> {
    const checked = checkRefreshGrace(seconds);
    if (!(await this.storage.clients.updateRefreshGrace(clientId, checked))) throw new RegistryError(`no client ${clientId}`, 'not_found');
    return this.getClient(clientId);
  }

  /**
   * Sets whether the client must push its authorization requests (RFC 9126 §6
   * `require_pushed_authorization_requests`): once set, /authorize takes only its request_uri values.
   */
  /** Sets whether the client's users must sign in with two factors (users/second-factor-policy.ts). */
  async setRequireSecondFactor(clientId: string, required: boolean): Promise<Client> {
    if (!(await this.storage.clients.updateRequireSecondFactor(clientId, required))) {
      throw new RegistryError(`no client ${clientId}`, 'not_found');
    }
    return this.getClient(clientId);
  }

  /**
   * Sets where the client takes back-channel logout tokens (Back-Channel Logout §2.2; null: nowhere)
   * and whether it needs `sid` in them.
   */
  async setBackchannelLogout(clientId: string, uri: string | null, sessionRequired: boolean): Promise<Client> {
    const client = await this.getClient(clientId);
    const checked = checkBackchannelLogout(uri, client.type);
    if (!(await this.storage.clients.updateBackchannelLogout(clientId, checked, sessionRequired))) {
      throw new RegistryError(`no client ${clientId}`, 'not_found');
    }
    return this.getClient(clientId);
  }

  async setRequirePasskey(clientId: string, required: boolean): Promise<Client> {
    if (!(await this.storage.clients.updateRequirePasskey(clientId, required))) {
      throw new RegistryError(`no client ${clientId}`, 'not_found');
    }
    return this.getClient(clientId);
  }

  async setRequirePushedAuthorizationRequests(clientId: string, required: boolean): Promise<Client> {
    if (!(await this.storage.clients.updateRequirePushedAuthorizationRequests(clientId, required))) {
      throw new RegistryError(`no client ${clientId}`, 'not_found');
    }
    return this.getClient(clientId);
  }

  /**
   * Sets the client's security profile. A client switched to `fapi2` must already meet its registration
   * rules (profiles/fapi2.ts): they are checked against its record, and it is refused otherwise.
   */
  async setProfile(clientId: string, profile: ClientProfile): Promise<Client> {
    const checked = checkProfile(profile);
    const client = await this.getClient(clientId);
    if (checked === 'fapi2') checkFapi2Registration(client);
    if (!(await this.storage.clients.updateProfile(clientId, checked))) throw new RegistryError(`no client ${clientId}`, 'not_found');
    return this.getClient(clientId);
  }

  /**
   * Replaces the secret at once: the old one stops working. Returns the new secret, shown once; `given`
   * is one the operator chose (configuration as code reads it from the environment or a file).
   */
  async rotateSecret(clientId: string, given?: string): Promise<string> {
    const client = await this.getClient(clientId);
    if (client.type !== 'confidential') throw new RegistryError('public clients have no secret', 'invalid');
    if (client.tokenEndpointAuthMethod === 'private_key_jwt') {
      throw new RegistryError('this client authenticates with private_key_jwt: it has no secret', 'invalid');
    }
    if (given !== undefined) checkGivenSecret(given);
    const secret = given ?? randomToken(32);
    // Deleted in the meantime: the secret would work nowhere, so it is not shown.
    if (!(await this.storage.clients.updateSecretHash(clientId, sha256(secret), nowSeconds()))) {
      throw new RegistryError(`no client ${clientId}`, 'not_found');
    }
    return secret;
  }
}

/** A write of a client's own rows in the transaction that stores the client (storage/client-store.ts). */
export type ClientWrite = (trx: Transaction<Database>, clientId: string) => Promise<void>;

/** A redirect or post-logout redirect URI broke a rule (RFC 7591 §3.2.2 answers invalid_redirect_uri). */
export class RedirectUriRejected extends RegistryError {
  constructor(message: string) {
    super(message, 'invalid');
  }
}

/** A resource's scope names: RFC 6749 §3.3 tokens, none of OpenID Connect's own, none twice. */
function checkScopeNames(names: string[]): void {
  for (const name of names) {
    if (!SCOPE_TOKEN.test(name)) throw new RegistryError(`scope "${name}" has characters RFC 6749 §3.3 forbids`, 'invalid');
    if ((RESERVED_SCOPES as readonly string[]).includes(name)) {
      throw new RegistryError(`scope "${name}" is an OpenID Connect scope and cannot be registered`, 'invalid');
    }
  }
  if (new Set(names).size !== names.length) throw new RegistryError('a scope is listed twice', 'invalid');
}

/**
 * A secret the operator chose: long enough to resist guessing (RFC 6749 §10.10: "the probability of an
 * attacker guessing generated tokens ... MUST be less than or equal to 2^(-128)"), printable, one line.
 */
function checkGivenSecret(secret: string): void {
  if (secret.length < 32) throw new RegistryError('a client secret needs at least 32 characters (openssl rand -base64 32)', 'invalid');
  if (secret.length > 512 || !/^[\x21-\x7e]+$/.test(secret)) throw new RegistryError('a client secret is at most 512 printable ASCII characters, without spaces', 'invalid');
}

/** Whether the client authenticates with a secret: confidential and not private_key_jwt. */
function usesSecret(client: Pick<NewClient, 'type' | 'tokenEndpointAuthMethod'>): boolean {
  return client.type === 'confidential' && client.tokenEndpointAuthMethod !== 'private_key_jwt';
}

/**
 * docs/security.md L77: a client that registered itself (RFC 7591, a metadata document) is an
 * unverified application: never first-party (users are always asked), never an API's own client, and
 * no token exchange, which needs the operator's per-client policy anyway (H57).
 */
function checkSelfRegistered(input: CreateClientInput): void {
  if (input.firstParty === true) throw new RegistryError('a self-registered client cannot be first-party', 'invalid');
  if ((input.introspectFor ?? []).length > 0) throw new RegistryError('a self-registered client cannot introspect for an API', 'invalid');
  if (input.audiences !== undefined) throw new RegistryError('a self-registered client gets the audiences of its scopes', 'invalid');
  if (input.grantTypes.includes(TOKEN_EXCHANGE_GRANT_TYPE)) throw new RegistryError('a self-registered client cannot use token exchange', 'invalid');
}

/** The grant types (with `device_code` as an alias of its URN) and what each kind of client may have. */
function checkGrants(input: CreateClientInput): { grantTypes: string[]; userGrant: boolean; introspectFor: string[] } {
  // RFC 8628: `device_code` is accepted as a short alias of the grant's URN.
  const grantTypes = [...new Set(input.grantTypes.map((g) => (g === 'device_code' ? DEVICE_CODE_GRANT : g)))];
  const userGrant = grantTypes.includes('authorization_code') || grantTypes.includes(DEVICE_CODE_GRANT);
  const introspectFor = [...new Set(input.introspectFor ?? [])];
  // An API's own client may have no grant at all: it only introspects.
  if (grantTypes.length === 0 && introspectFor.length === 0) {
    throw new RegistryError('a client needs at least one grant type (or --introspect-for, for an API)', 'invalid');
  }
  if (introspectFor.length > 0 && input.type !== 'confidential') {
    throw new RegistryError('only confidential clients may introspect (RFC 7662 §2.1: the caller authenticates)', 'invalid');
  }
  for (const g of grantTypes) {
    if (!REGISTRABLE_GRANT_TYPES.includes(g)) {
      throw new RegistryError(`grant type "${g}" is not supported (supported: ${REGISTRABLE_GRANT_TYPES.join(', ')})`, 'invalid');
    }
  }
  // RFC 6749 §4.4: the client credentials grant is for confidential clients only.
  if (input.type === 'public' && grantTypes.includes('client_credentials')) {
    throw new RegistryError('public clients cannot use client_credentials', 'invalid');
  }
  // RFC 8693 §2.1 and docs/security.md H57: token exchange requires client authentication.
  if (input.type === 'public' && grantTypes.includes(TOKEN_EXCHANGE_GRANT_TYPE)) {
    throw new RegistryError('public clients cannot use token exchange', 'invalid');
  }
  // Refresh tokens are only ever issued to users (authorization code or device grant).
  if (grantTypes.includes('refresh_token') && !userGrant) {
    throw new RegistryError('refresh_token needs the authorization_code or device_code grant', 'invalid');
  }
  return { grantTypes, userGrant, introspectFor };
}

/** Redirect URIs (with the authorization_code grant only, and then at least one) and ID token signing. */
function checkBrowserSettings(input: CreateClientInput, grantTypes: string[], profile: ClientProfile) {
  const redirectUris = checkUris(input.redirectUris ?? [], 'redirect URI', redirectUriRules(input.type));
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    throw new RedirectUriRejected('the authorization_code grant needs at least one redirect URI (--redirect-uris)');
  }
  if (!grantTypes.includes('authorization_code') && redirectUris.length > 0) {
    throw new RedirectUriRejected('redirect URIs are only for the authorization_code grant');
  }
  const postLogoutRedirectUris = checkUris(input.postLogoutRedirectUris ?? [], 'post-logout redirect URI');
  const idTokenAlg = input.idTokenSignedResponseAlg ?? defaultIdTokenAlgorithm(profile);
  if (idTokenAlg !== 'RS256' && idTokenAlg !== 'ES256') {
    throw new RegistryError('the ID token algorithm must be RS256 or ES256', 'invalid');
  }
  return { redirectUris, postLogoutRedirectUris, idTokenAlg };
}

/** A client's profile: `default` when none is given. */
function checkProfile(profile: ClientProfile | undefined): ClientProfile {
  const value = profile ?? 'default';
  if (!CLIENT_PROFILES.includes(value)) throw new RegistryError(`the profile must be one of ${CLIENT_PROFILES.join(', ')}`, 'invalid');
  return value;
}

/** The token endpoint authentication method (RFC 7591 §2): `none` for public clients, else one of the confidential ones. */
function checkAuthMethod(input: CreateClientInput): TokenEndpointAuthMethod {
  const method = input.tokenEndpointAuthMethod ?? (input.type === 'public' ? 'none' : 'client_secret_basic');
  const fits = input.type === 'public' ? method === 'none' : [...CONFIDENTIAL_AUTH_METHODS, ...MTLS_AUTH_METHODS].includes(method as never);
  if (!fits) throw new RegistryError(`auth method "${method}" does not fit a ${input.type} client`, 'invalid');
  return method;
}

/**
 * RFC 8705 §2.1.2: a `tls_client_auth` client registers exactly one certificate subject ("exactly one
 * of the ... parameters"), and no other client registers any.
 */
function checkTlsClientAuth(method: TokenEndpointAuthMethod, subject: TlsClientAuthSubject | undefined): TlsClientAuthSubject | null {
  if (method !== 'tls_client_auth') {
    if (subject !== undefined) throw new RegistryError('a certificate subject is only for the tls_client_auth auth method', 'invalid');
    return null;
  }
  if (subject === undefined) {
    throw new RegistryError('a tls_client_auth client needs exactly one of --tls-subject-dn, --tls-san-dns, --tls-san-uri, --tls-san-ip, --tls-san-email', 'invalid');
  }
  const [kind, ...others] = Object.keys(subject);
  const value = kind === undefined ? undefined : (subject as Record<string, unknown>)[kind];
  if (others.length > 0 || !kind || !(kind in SUBJECT_METADATA) || typeof value !== 'string' || value === '' || value.length > 500) {
    throw new RegistryError('a tls_client_auth client needs exactly one certificate subject', 'invalid');
  }
  if (kind === 'subjectDn' && !isDistinguishedName(value)) throw new RegistryError('the subject DN must be an RFC 4514 string such as CN=svc,O=Example', 'invalid');
  if (kind === 'sanIp' && isIP(value) === 0) throw new RegistryError('the subjectAltName IP must be an IP address', 'invalid');
  return subject;
}

/** A client's own grace window: whole seconds, at most the server-wide maximum (config/load.ts). */
function checkRefreshGrace(seconds: number | null): number | null {
  if (seconds !== null && (!Number.isInteger(seconds) || seconds < 0 || seconds > 60)) {
    throw new RegistryError('the refresh grace window must be between 0 and 60 seconds', 'invalid');
  }
  return seconds;
}

/** Registration-time checks of redirect-type URIs (docs/security.md A5, A6): each one exact and safe. */
function checkUris(uris: string[], what: string, rules: RedirectUriRules = {}): string[] {
  const unique = [...new Set(uris)];
  if (unique.length > 20) throw new RegistryError(`at most 20 ${what}s`, 'invalid');
  for (const uri of unique) {
    const check = checkRedirectUriForRegistration(uri, rules);
    if (!check.ok) throw new RedirectUriRejected(`${what} ${JSON.stringify(uri.slice(0, 200))}: ${check.reason}`);
  }
  return unique;
}


/** A client's `backchannel_logout_uri`, checked (registry/backchannel-logout-uri.ts); null: none. */
function checkBackchannelLogout(uri: string | null | undefined, type: ClientType): string | null {
  if (uri === undefined || uri === null || uri === '') return null;
  const problem = checkBackchannelLogoutUri(uri, type);
  if (problem) throw new RegistryError(`the back-channel logout URI ${problem}`, 'invalid');
  return uri;
}
