import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT_TYPE } from '../../src/registry/grant-types.ts';
import { randomToken, sha256 } from '../../src/lib/random.ts';
import type { TokenEndpointAuthMethod } from '../../src/registry/types.ts';
import { createInitialAccessToken, revokeInitialAccessToken } from '../../src/registration/initial-access-tokens.ts';
import { UserRegistry } from '../../src/users/user-registry.ts';
import { startSession } from '../../src/users/sessions.ts';
import { basicAuth, PASSWORD, type RunningServer, startServer, type TestDatabase } from '@latchkey/testing';
import { formEncode, type FuzzRequest } from './http-model.ts';
import type { DpopProofKind } from './hostile.ts';
import { b64json, generateSigningKey, hmacSignature, publicJwk, randomJti, signJwt, type SigningKey } from './jwt.ts';
import { documentText, validDocument, type InitialToken, type RegisteredKind } from './registration.ts';

/**
 * The world a fuzz run plays in: a Latchkey server with one client per authentication method, a user,
 * and pools of live artifacts (codes, refresh tokens, device codes, access tokens, sessions) that the
 * valid requests are built from. An artifact a request used up (a code redeemed, a token revoked, a
 * session ended by a new login) is minted again before it is next needed.
 */

export const API = 'https://api.example.com';
export const INVENTORY = 'https://inventory.internal';
export const OPAQUE_API = 'https://opaque.example.com';
/** An API with a scope open to self-registered clients (notes:read) and one that is not (notes:write). */
export const NOTES_API = 'https://notes.example.com';
/**
 * Dynamic registration (RFC 7591) is open; registrations per address per hour: far above what one
 * generated address sends, reached by the one address a tenth of them come from (registration.ts).
 */
export const REGISTRATION_RATE_LIMIT = 200;
export const REDIRECT_URIS = ['https://app.example/callback', 'http://127.0.0.1/cb', 'http://[::1]/cb', 'com.example.app:/callback'] as const;
export const USER_SCOPE = 'openid profile email offline_access orders:read';
/** The scope of pooled codes, refresh tokens and device codes: no ID token to sign for each (they are minted often). */
export const POOL_SCOPE = 'orders:read orders:write';
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** The clients of every grant: one per authentication method. */
export const CLIENT_KEYS = ['basic', 'post', 'jwt', 'none'] as const;
export type ClientKey = (typeof CLIENT_KEYS)[number];
/** And two more: an API's own client (introspection only) and a client_credentials-only client. */
export type AnyClientKey = ClientKey | 'api' | 'ccOnly';

export interface FuzzClient {
  key: AnyClientKey;
  clientId: string;
  method: TokenEndpointAuthMethod;
  secret?: string;
  /** private_key_jwt: the keys the client registered (ES256 and Ed25519). */
  keys?: SigningKey[];
  confidential: boolean;
}

/** Kinds of pooled artifacts. */
export type ArtifactKind =
  'code' | 'refresh' | 'device-approved' | 'device-pending' | 'client-token' | 'exchange-subject' | 'user-token' | 'opaque-token';

export interface CodeArtifact {
  code: string;
  verifier: string;
  redirectUri: string;
}

/** A client registered through RFC 7591, with what RFC 7592 requests need: its registration access token (and the one it replaced). */
export interface RegisteredClient {
  clientId: string;
  token: string;
  previous?: string;
  secret?: string;
}

interface Pooled {
  value: string;
  data?: unknown;
  uses: number;
}

export class World {
  readonly app: FastifyInstance;
  readonly issuer: string;
  /** A key no client registered, for forged assertions and tokens. */
  readonly rogue = generateSigningKey('ES256', 'rogue-key');
  /** The login form's binding cookie (any 43 base64url characters; its CSRF token is read from the form). */
  readonly loginBinding = randomBytes(32).toString('base64url');
  private readonly pools = new Map<string, Pooled>();
  /** The last jti each client used, to replay. */
  readonly lastJti = new Map<string, string>();
  /** The client's DPoP key (RFC 9449 §4): every valid proof of the run is signed with it. */
  readonly dpopKey = generateSigningKey('ES256', 'dpop');
  /** The last valid proof made, to replay (RFC 9449 §11.1). */
  private lastDpopProof: string | undefined;
  /** The key and jti of every DPoP proof a request was carried out with (oracle.ts: none twice). */
  readonly acceptedDpopJtis = new Set<string>();
  private issuerJwksCache: { keys: Record<string, unknown>[] } | undefined;

  readonly running: RunningServer;
  readonly clients: Record<AnyClientKey, FuzzClient>;
  readonly user: { id: string; username: string; password: string };

  private constructor(
    running: RunningServer,
    clients: Record<AnyClientKey, FuzzClient>,
    user: { id: string; username: string; password: string },
  ) {
    this.running = running;
    this.clients = clients;
    this.user = user;
    this.app = running.server.app;
    this.issuer = running.issuer;
  }

  get ctx() {
    return this.running.server.context;
  }

  static async create(db: TestDatabase): Promise<World> {
    const running = await startServer(db, {
      logLevel: 'error',
      accessTokenTtlSeconds: 3600,
      keyCacheSeconds: 300,
      registration: 'open',
      registrationRateLimitPerHour: REGISTRATION_RATE_LIMIT,
    });
    const { registry } = running;
    await registry.createResource({
      identifier: API,
      name: 'Orders API',
      scopes: [
        { scope: 'orders:read', description: 'Read your orders' },
        { scope: 'orders:write', description: 'Place orders for you' },
      ],
    });
    await registry.createResource({ identifier: INVENTORY, scopes: ['inventory:read'] });
    await registry.createResource({ identifier: OPAQUE_API, scopes: ['opaque:read'], accessTokenFormat: 'opaque' });
    await registry.createResource({ identifier: NOTES_API, scopes: ['notes:read', 'notes:write'], openScopes: ['notes:read'] });
    const scopes = ['openid', 'profile', 'email', 'offline_access', 'orders:read', 'orders:write', 'inventory:read', 'opaque:read'];
    const userGrants = ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT];
    const clients = {} as Record<AnyClientKey, FuzzClient>;
    const methods: Record<'basic' | 'post' | 'jwt', TokenEndpointAuthMethod> = {
      basic: 'client_secret_basic',
      post: 'client_secret_post',
      jwt: 'private_key_jwt',
    };
    for (const key of ['basic', 'post', 'jwt'] as const) {
      const keys = key === 'jwt' ? [generateSigningKey('ES256', 'fuzz-es256'), generateSigningKey('EdDSA', 'fuzz-ed25519')] : undefined;
      const created = await registry.createClient({
        name: `fuzz ${key}`,
        type: 'confidential',
        tokenEndpointAuthMethod: methods[key],
        grantTypes: ['client_credentials', TOKEN_EXCHANGE_GRANT_TYPE, ...userGrants],
        scopes,
        redirectUris: [...REDIRECT_URIS],
        // One first-party client: with a session, /authorize issues its code without consent.
        firstParty: key === 'post',
        // ES256 ID tokens are cheaper to sign than RS256 ones; the basic client keeps the default.
        ...(key === 'basic' ? {} : { idTokenSignedResponseAlg: 'ES256' as const }),
        ...(keys ? { jwks: { keys: keys.map(publicJwk) } } : {}),
      });
      await registry.allowTokenExchange(created.client.clientId, INVENTORY, ['inventory:read']);
      clients[key] = {
        key,
        clientId: created.client.clientId,
        method: methods[key],
        ...(created.clientSecret ? { secret: created.clientSecret } : {}),
        ...(keys ? { keys } : {}),
        confidential: true,
      };
    }
    const pub = await registry.createClient({
      name: 'fuzz public',
      type: 'public',
      grantTypes: userGrants,
      scopes: scopes.filter((s) => s !== 'inventory:read' && s !== 'opaque:read'),
      redirectUris: [...REDIRECT_URIS],
      idTokenSignedResponseAlg: 'ES256',
    });
    clients.none = { key: 'none', clientId: pub.client.clientId, method: 'none', confidential: false };
    const api = await registry.createClient({ name: 'fuzz api', type: 'confidential', grantTypes: [], scopes: [], introspectFor: [API] });
    clients.api = { key: 'api', clientId: api.client.clientId, method: 'client_secret_basic', secret: api.clientSecret!, confidential: true };
    const ccOnly = await registry.createClient({ name: 'fuzz cc', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
    clients.ccOnly = { key: 'ccOnly', clientId: ccOnly.client.clientId, method: 'client_secret_basic', secret: ccOnly.clientSecret!, confidential: true };

    const users = new UserRegistry(running.server.context.storage);
    const alice = await users.create({ username: 'alice', password: PASSWORD, email: 'alice@example.com', name: 'Alice Liddell' });
    // A second, disabled user: tokens and sessions of disabled users must be refused without a 500.
    await users.create({ username: 'mallory', password: PASSWORD, email: 'mallory@example.com', name: 'Mallory' });
    await users.disable('mallory');
    return new World(running, clients, { id: alice.id, username: 'alice', password: PASSWORD });
  }

  async close(): Promise<void> {
    await this.running.close();
  }

  /** For forged tokens: a client id that is not the token's (forge.ts). */
  get otherClientId(): string {
    return this.clients.ccOnly.clientId;
  }

  client(key: AnyClientKey): FuzzClient {
    return this.clients[key];
  }

  /** Client authentication parameters and headers of a client's own method, fresh (a new assertion each time). */
  credentials(key: AnyClientKey): { header?: string; form: [string, string][] } {
    const client = this.clients[key];
    switch (client.method) {
      case 'client_secret_basic':
        return { header: basicAuth(client.clientId, client.secret!), form: [] };
      case 'client_secret_post':
        return { form: [['client_id', client.clientId], ['client_secret', client.secret!]] };
      case 'private_key_jwt':
        return { form: [['client_assertion_type', ASSERTION_TYPE], ['client_assertion', this.assertion(key)]] };
      default:
        return { form: [['client_id', client.clientId]] };
    }
  }

  /** A client assertion (RFC 7523 §3) of a private_key_jwt client, with claims and header changed as asked. */
  assertion(
    key: AnyClientKey,
    options: { claims?: Record<string, unknown>; header?: Record<string, unknown>; signer?: SigningKey; keyIndex?: number } = {},
  ): string {
    const client = this.clients[key];
    const keys = client.keys ?? this.clients.jwt.keys!;
    const signer = options.signer ?? keys[(options.keyIndex ?? 0) % keys.length]!;
    const now = Math.floor(Date.now() / 1000);
    const jti = randomJti();
    this.lastJti.set(client.clientId, jti);
    const claims: Record<string, unknown> = { iss: client.clientId, sub: client.clientId, aud: `${this.issuer}/token`, iat: now, exp: now + 60, jti, ...options.claims };
    for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
    return signJwt(claims, signer, options.header);
  }

  /** RFC 7638 thumbprint of a key's public JWK: the `cnf.jkt` of the tokens its proofs bind, a `dpop_jkt`. */
  thumbprint(key: SigningKey): string {
    const { crv, kty, x, y } = key.publicKey.export({ format: 'jwk' });
    return createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
  }

  /**
   * A DPoP proof (RFC 9449 §4.2) for `htm` at the issuer's `path`, as `kind` says: valid, by another
   * key, or failing one check of §4.3.
   */
  dpopProof(kind: DpopProofKind, htm: string, path: string): string {
    if (kind === 'replayed' && this.lastDpopProof !== undefined) return this.lastDpopProof;
    if (kind === 'not-a-jwt') return 'eyJhbGciOiJFUzI1NiJ9.e30';
    const now = Math.floor(Date.now() / 1000);
    const jwk = (key: SigningKey) => key.publicKey.export({ format: 'jwk' });
    const claims: Record<string, unknown> = { htm, htu: `${this.issuer}${path}`, iat: now, jti: randomJti() };
    let header: Record<string, unknown> = { typ: 'dpop+jwt', jwk: jwk(this.dpopKey), kid: undefined };
    let signer = this.dpopKey;
    switch (kind) {
      case 'other-key':
        signer = this.rogue;
        header.jwk = jwk(this.rogue);
        break;
      case 'wrong-htm':
        claims.htm = htm === 'POST' ? 'GET' : 'POST';
        break;
      case 'wrong-htu':
        claims.htu = `${this.issuer}/introspect`;
        break;
      case 'htu-with-query':
        claims.htu = `${claims.htu as string}?a=b#c`;
        break;
      case 'stale-iat':
        claims.iat = now - 3600;
        break;
      case 'future-iat':
        claims.iat = now + 3600;
        break;
      case 'no-iat':
        delete claims.iat;
        break;
      case 'no-jti':
        delete claims.jti;
        break;
      case 'typ-jwt':
        header.typ = 'JWT';
        break;
      case 'no-typ':
        header.typ = undefined;
        break;
      case 'alg-none':
        return `${b64json({ alg: 'none', typ: 'dpop+jwt', jwk: header.jwk })}.${b64json(claims)}.`;
      case 'alg-hs256': {
        const input = `${b64json({ alg: 'HS256', typ: 'dpop+jwt', jwk: header.jwk })}.${b64json(claims)}`;
        return `${input}.${hmacSignature(input, JSON.stringify(header.jwk))}`;
      }
      case 'alg-mismatch':
        header = { ...header, alg: 'ES384' };
        break;
      case 'private-jwk':
        header.jwk = this.dpopKey.privateKey.export({ format: 'jwk' });
        break;
      case 'symmetric-jwk':
        header.jwk = { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' };
        break;
      case 'no-jwk':
        header.jwk = undefined;
        break;
      case 'jwk-of-other-key':
        header.jwk = jwk(this.rogue);
        break;
      case 'with-nonce':
        claims.nonce = 'not-a-nonce-of-this-server';
        break;
      case 'with-ath':
        claims.ath = createHash('sha256').update('some access token').digest('base64url');
        break;
      case 'valid':
      case 'replayed':
        break;
    }
    const proof = signJwt(claims, signer, header);
    if (kind === 'valid') this.lastDpopProof = proof;
    return proof;
  }

  /** The issuer's published keys (public members only), for alg-confusion forgeries. */
  async issuerJwks(): Promise<{ keys: Record<string, unknown>[] }> {
    this.issuerJwksCache ??= (await this.ctx.keys.jwks()) as unknown as { keys: Record<string, unknown>[] };
    return this.issuerJwksCache;
  }

  // ---- pools --------------------------------------------------------------------------------------

  private async pooled(name: string, mint: () => Promise<Pooled>, maxUses = Infinity): Promise<Pooled> {
    let entry = this.pools.get(name);
    if (!entry || entry.uses >= maxUses) {
      entry = await mint();
      this.pools.set(name, entry);
    }
    entry.uses++;
    return entry;
  }

  /**
   * A request carrying these values was accepted: the artifacts it names may be spent. A refresh
   * token that was rotated is followed to its successor (`rotatedTo`), which keeps the pool without
   * minting a new family.
   */
  spend(values: Iterable<string>, rotatedTo?: string): void {
    const spent = new Set(values);
    for (const [name, entry] of this.pools) {
      if (!spent.has(entry.value)) continue;
      if (rotatedTo !== undefined && name.startsWith('refresh:')) entry.value = rotatedTo;
      else this.pools.delete(name);
    }
  }

  /** Whether `value` is a live pooled token that /revoke would act on. */
  isLiveToken(value: string): boolean {
    for (const [name, entry] of this.pools) {
      if (entry.value === value && /^(refresh|client-token|exchange-subject|user-token|opaque-token):/.test(name)) return true;
    }
    return false;
  }

  /** The client a pooled device code was issued to. */
  deviceCodeOwner(value: string): string | undefined {
    for (const [name, entry] of this.pools) if (name.startsWith('device-') && entry.value === value) return entry.data as string;
    return undefined;
  }

  async artifact(kind: ArtifactKind, key: AnyClientKey): Promise<string> {
    // The api and client_credentials-only clients have no user grants: theirs are the basic client's.
    const user: ClientKey = key === 'api' || key === 'ccOnly' ? 'basic' : key;
    switch (kind) {
      case 'code':
        return (await this.code(user)).code;
      case 'refresh':
        return this.refreshToken(user);
      case 'device-approved':
        return this.deviceCode(user, true);
      case 'device-pending':
        return this.deviceCode(user, false);
      case 'client-token':
        return this.clientToken(key, 'orders:read', 'client-token');
      case 'exchange-subject':
        return this.clientToken(key, 'inventory:read', 'exchange-subject');
      case 'opaque-token':
        return this.clientToken(key, 'opaque:read', 'opaque-token');
      case 'user-token':
        return this.userToken(key);
    }
  }

  async code(key: AnyClientKey): Promise<CodeArtifact> {
    const entry = await this.pooled(`code:${key}`, async () => {
      const minted = await this.mintCode(key, POOL_SCOPE);
      return { value: minted.code, data: minted, uses: 0 };
    });
    return entry.data as CodeArtifact;
  }

  /**
   * A code the way a browser gets one: /authorize with alice's session, through the consent form the
   * first time a client asks (after that the consent is remembered).
   */
  private async mintCode(key: AnyClientKey, scope: string): Promise<CodeArtifact> {
    const verifier = randomToken(32);
    const redirectUri = REDIRECT_URIS[0];
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: this.clients[key].clientId,
      redirect_uri: redirectUri,
      scope,
      state: 'mint',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const session = await this.session('mint');
    const cookie = `latchkey_session=${session}`;
    let res = await this.app.inject({ method: 'GET', url: `/authorize?${query}`, headers: { cookie } });
    let location = String(res.headers.location ?? '');
    if (location.startsWith('/consent')) {
      const csrf = await this.consentCsrf(session);
      res = await this.app.inject({
        method: 'POST',
        url: '/consent',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: `${query}&csrf_token=${formEncode(csrf)}&decision=allow`,
      });
      location = String(res.headers.location ?? '');
    }
    const code = location.startsWith(redirectUri) ? new URL(location).searchParams.get('code') : null;
    if (!code) throw new Error(`setting up the fuzz world: no code from /authorize (${res.statusCode} ${location} ${res.body.slice(0, 200)})`);
    return { code, verifier, redirectUri };
  }

  /** A refresh token from a code exchange (the scope has offline_access). */
  async refreshToken(key: AnyClientKey): Promise<string> {
    const entry = await this.pooled(`refresh:${key}`, async () => {
      const tokens = await this.exchangeCode(key, POOL_SCOPE);
      return { value: tokens.refresh_token as string, uses: 0 };
    });
    return entry.value;
  }

  private async exchangeCode(key: AnyClientKey, scope: string): Promise<Record<string, unknown>> {
    const minted = await this.mintCode(key, scope);
    return this.tokenRequest(key, [
      ['grant_type', 'authorization_code'],
      ['code', minted.code],
      ['code_verifier', minted.verifier],
      ['redirect_uri', minted.redirectUri],
    ]);
  }

  /** A device code of the client (/device_authorization): approved by alice on the /device page (redeemable once), or still pending. */
  async deviceCode(key: AnyClientKey, approved: boolean): Promise<string> {
    const entry = await this.pooled(`device-${approved ? 'approved' : 'pending'}:${key}`, async () => {
      const minted = await this.mintDeviceCode(key, approved);
      return { value: minted.deviceCode, data: this.clients[key].clientId, uses: 0 };
    });
    return entry.value;
  }

  /** A pending device request for the /device page, by its user code (a fresh one every 6 uses). */
  async pageUserCode(): Promise<string> {
    const entry = await this.pooled('page-device:none', async () => {
      const minted = await this.mintDeviceCode('none', false);
      return { value: minted.userCode, uses: 0 };
    }, 6);
    return entry.value;
  }

  private mints = 0;

  private async mintDeviceCode(key: AnyClientKey, approved: boolean): Promise<{ deviceCode: string; userCode: string }> {
    const started = await this.setupRequest(key, '/device_authorization', [['scope', POOL_SCOPE]]);
    const deviceCode = started.device_code as string;
    const userCode = started.user_code as string;
    if (approved) {
      // A session and an address of its own for each approval: the page counts attempts per both.
      const { value: session } = await startSession(this.ctx.storage, this.user.id, ['pwd'], Math.floor(Date.now() / 1000));
      const remoteAddress = `100.64.${(this.mints >> 8) & 255}.${this.mints & 255}`;
      this.mints++;
      const csrf = await this.deviceCsrf(session);
      const res = await this.app.inject({
        method: 'POST',
        url: '/device',
        remoteAddress,
        headers: { cookie: `latchkey_session=${session}`, 'content-type': 'application/x-www-form-urlencoded' },
        payload: `csrf_token=${formEncode(csrf)}&user_code=${formEncode(userCode)}&decision=allow`,
      });
      if (res.statusCode !== 200) throw new Error(`setting up the fuzz world: approving a device code answered ${res.statusCode} ${res.body.slice(0, 300)}`);
    }
    return { deviceCode, userCode };
  }

  /** A client_credentials access token of a confidential client (the public client gets the ccOnly client's). */
  async clientToken(key: AnyClientKey, scope: string, kind: 'client-token' | 'exchange-subject' | 'opaque-token'): Promise<string> {
    const holder = this.clients[key].confidential && key !== 'api' ? key : 'ccOnly';
    const wanted = holder === 'ccOnly' ? 'orders:read' : scope;
    const entry = await this.pooled(`${kind}:${holder}`, async () => {
      const token = await this.tokenRequest(holder, [['grant_type', 'client_credentials'], ['scope', wanted]]);
      return { value: token.access_token as string, uses: 0 };
    });
    return entry.value;
  }

  /** A user access token (openid, the API) issued to the client through a code exchange; the api client gets basic's. */
  async userToken(key: AnyClientKey): Promise<string> {
    const holder: ClientKey = key === 'api' || key === 'ccOnly' ? 'basic' : key;
    const entry = await this.pooled(`user-token:${holder}`, async () => {
      const tokens = await this.exchangeCode(holder, USER_SCOPE);
      return { value: tokens.access_token as string, uses: 0 };
    });
    return entry.value;
  }

  /** A session of alice (its cookie value); a fresh one every `maxUses` uses (the device page counts attempts per session). */
  async session(pool = 'page', maxUses = Infinity): Promise<string> {
    const entry = await this.pooled(`session:${pool}`, async () => {
        const { value } = await startSession(this.ctx.storage, this.user.id, ['pwd'], Math.floor(Date.now() / 1000));
      return { value, uses: 0 };
    }, maxUses);
    return entry.value;
  }

  /** A token request made to set the world up (not counted as fuzz). */
  private tokenRequest(key: AnyClientKey, form: [string, string][]): Promise<Record<string, unknown>> {
    return this.setupRequest(key, '/token', form);
  }

  private async setupRequest(key: AnyClientKey, path: string, form: [string, string][]): Promise<Record<string, unknown>> {
    const creds = this.credentials(key);
    const res = await this.app.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(creds.header ? { authorization: creds.header } : {}) },
      payload: [...form, ...creds.form].map(([k, v]) => `${k}=${formEncode(v)}`).join('&'),
    });
    if (res.statusCode !== 200) throw new Error(`setting up the fuzz world: ${path} answered ${res.statusCode} ${res.body}`);
    return res.json() as Record<string, unknown>;
  }

  // ---- clients registered through RFC 7591, for RFC 7592 requests ---------------------------------------

  private readonly registered = new Map<string, RegisteredClient>();
  private registrations = 0;

  /** A live registered client of the kind (two per kind: `slot`), registered again once deleted. */
  async registeredClient(kind: RegisteredKind, slot: number): Promise<RegisteredClient> {
    const name = `${kind}:${slot}`;
    let client = this.registered.get(name);
    if (!client) {
      // An address of its own for each: the setup stays far from the hourly limit.
      const n = this.registrations++;
      const res = await this.app.inject({
        method: 'POST',
        url: '/register',
        remoteAddress: `100.127.${(n >> 8) & 255}.${n & 255}`,
        headers: { 'content-type': 'application/json' },
        payload: documentText(validDocument(kind)),
      });
      if (res.statusCode !== 201) throw new Error(`setting up the fuzz world: registering a ${kind} client answered ${res.statusCode} ${res.body}`);
      const info = res.json() as { client_id: string; registration_access_token: string; client_secret?: string };
      client = { clientId: info.client_id, token: info.registration_access_token, ...(info.client_secret ? { secret: info.client_secret } : {}) };
      this.registered.set(name, client);
    }
    return client;
  }

  /** Initial access tokens by kind (`single-use`: a new one each time), and the uses the live ones have left. */
  private readonly initialTokens = new Map<InitialToken, string>();
  private readonly initialTokenUses = new Map<string, number>();

  /** An initial access token (RFC 7591 §3) of the kind, as the operator's CLI mints them. */
  async initialAccessToken(kind: Exclude<InitialToken, 'none'>): Promise<string> {
    if (kind === 'wrong') return 'bm90LWFuLWluaXRpYWwtYWNjZXNzLXRva2VuLWF0LWFsbA';
    const cached = this.initialTokens.get(kind);
    if (cached && kind !== 'single-use') return cached;
    const now = this.ctx.now();
    const storage = this.ctx.storage;
    let value: string;
    if (kind === 'expired') {
      // An expired one cannot be minted through createInitialAccessToken (at least a second): stored as it would be, an hour old.
      value = randomToken(32);
      await storage.initialAccessTokens.create({ id: randomToken(9), description: 'fuzz expired', createdAt: now - 7200, expiresAt: now - 3600, maxUses: null }, sha256(value));
    } else {
      const minted = await createInitialAccessToken(storage, { description: `fuzz ${kind}`, ...(kind === 'live' ? {} : { maxUses: 1 }) }, now);
      value = minted.value;
      if (kind === 'revoked') await revokeInitialAccessToken(storage, minted.token.id, now);
      if (kind === 'used-up') await storage.db.kysely.transaction().execute((trx) => storage.initialAccessTokens.consume(trx, sha256(value), now));
      if (kind === 'live' || kind === 'single-use') this.initialTokenUses.set(value, kind === 'live' ? Infinity : 1);
    }
    this.initialTokens.set(kind, value);
    return value;
  }

  /** Whether an initial access token has uses left. */
  isLiveInitialAccessToken(value: string): boolean {
    return (this.initialTokenUses.get(value) ?? 0) > 0;
  }

  /** The live registration access token of a pooled registered client, if `clientId` is one. */
  registrationToken(clientId: string): string | undefined {
    for (const client of this.registered.values()) if (client.clientId === clientId) return client.token;
    return undefined;
  }

  /**
   * An accepted RFC 7592 request: an update replaced the registration access token (and maybe the
   * secret), a delete removed the client (registered again when next needed).
   */
  registrationAccepted(request: FuzzRequest, status: number, body: string): void {
    if (request.path === '/register' && status === 201 && this.ctx.settings.registration === 'initial-access-token') {
      // The registration used one use of the initial access token it carried.
      for (const p of request.params) {
        const token = p.where === 'header' && p.name === 'authorization' ? /^Bearer +(\S+)$/.exec(p.value)?.[1] : undefined;
        const left = token === undefined ? undefined : this.initialTokenUses.get(token);
        if (left !== undefined) this.initialTokenUses.set(token!, left - 1);
      }
    }
    const match = /^\/register\/([^/?]+)$/.exec(request.path);
    if (!match) return;
    let clientId: string;
    try {
      clientId = decodeURIComponent(match[1]!);
    } catch {
      return;
    }
    for (const [name, client] of this.registered) {
      if (client.clientId !== clientId) continue;
      if (status === 204) this.registered.delete(name);
      else if (status === 200 && request.method.toUpperCase() === 'PUT') {
        const info = JSON.parse(body) as { registration_access_token: string; client_secret?: string; token_endpoint_auth_method?: string };
        client.previous = client.token;
        client.token = info.registration_access_token;
        const keepsSecret = info.token_endpoint_auth_method === 'client_secret_basic' || info.token_endpoint_auth_method === 'client_secret_post';
        if (info.client_secret !== undefined) client.secret = info.client_secret;
        else if (!keepsSecret) delete client.secret;
      }
    }
  }

  // ---- CSRF tokens, read from the forms as a browser would --------------------------------------------

  private readonly csrfTokens = new Map<string, string>();

  private async scrapeCsrf(cacheKey: string, url: string, cookie: string): Promise<string> {
    const cached = this.csrfTokens.get(cacheKey);
    if (cached) return cached;
    const res = await this.app.inject({ method: 'GET', url, headers: { cookie } });
    const token = /name="csrf_token" value="([^"]+)"/.exec(res.body)?.[1];
    if (!token) throw new Error(`setting up the fuzz world: no CSRF token on ${url} (${res.statusCode})`);
    this.csrfTokens.set(cacheKey, token);
    return token;
  }

  /** The login form's token, bound to this world's login binding cookie. */
  async loginCsrf(): Promise<string> {
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: this.clients.none.clientId,
      redirect_uri: REDIRECT_URIS[0],
      scope: USER_SCOPE,
      code_challenge: createHash('sha256').update('x'.repeat(43)).digest('base64url'),
      code_challenge_method: 'S256',
    });
    return this.scrapeCsrf('login', `/login?${query}`, `latchkey_login=${this.loginBinding}`);
  }

  async consentCsrf(session: string): Promise<string> {
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: this.clients.none.clientId,
      redirect_uri: REDIRECT_URIS[0],
      scope: USER_SCOPE,
      code_challenge: createHash('sha256').update('x'.repeat(43)).digest('base64url'),
      code_challenge_method: 'S256',
    });
    return this.scrapeCsrf(`consent:${session}`, `/consent?${query}`, `latchkey_session=${session}`);
  }

  async deviceCsrf(session: string): Promise<string> {
    return this.scrapeCsrf(`device:${session}`, '/device', `latchkey_session=${session}`);
  }
}
