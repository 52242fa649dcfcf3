import fc from 'fast-check';
import { DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT_TYPE } from '../../src/registry/grant-types.ts';
import { pkcePair } from '@latchkey/testing';
import { dpopProof, hostile, remoteAddress, type DpopProofKind, type Hostile } from './hostile.ts';
import { formEncode, type FuzzRequest, type Where } from './http-model.ts';
import { hostileValue, mutate, mutations, rawBody, rawBodyValue, type ArtifactParam, type Mutation, type RawBody } from './mutations.ts';
import { buildRegistration, type RegistrationBase } from './registration.ts';
import { ACCESS_TOKEN_TYPE, API, CLIENT_KEYS, INVENTORY, REDIRECT_URIS, USER_SCOPE, type AnyClientKey, type ArtifactKind, type ClientKey, type World } from './world.ts';

/**
 * What the fuzzers generate: a valid request of an endpoint (named, not built: the artifacts it
 * carries are live ones, fetched from the world when it is sent) and the mutations applied to it; or
 * a request made of random parts.
 */

export const GRANTS = ['client_credentials', 'authorization_code', 'refresh_token', 'device_code', 'token_exchange'] as const;
export type Grant = (typeof GRANTS)[number];

export type TokenKind = 'client-token' | 'user-token' | 'refresh' | 'opaque-token' | 'exchange-subject';

export type Base =
  | { endpoint: 'token'; grant: Grant; client: ClientKey; pending: boolean; options: boolean[]; dpop: DpopProofKind | undefined }
  | {
      endpoint: 'par';
      client: ClientKey;
      redirect: number;
      options: boolean[];
      dpop: DpopProofKind | undefined;
      /** RFC 9449 §10: a dpop_jkt beside the proof, naming the world's DPoP key or another. */
      dpopJkt: 'none' | 'same' | 'other';
    }
  | { endpoint: 'introspect' | 'revoke'; client: AnyClientKey; token: TokenKind; owner: AnyClientKey; hint: string | undefined }
  | { endpoint: 'device_authorization'; client: ClientKey; scope: string }
  | { endpoint: 'userinfo'; method: 'GET' | 'POST'; carrier: 'header' | 'body'; token: TokenKind; owner: AnyClientKey }
  | { endpoint: 'authorize'; method: 'GET' | 'POST'; client: ClientKey; redirect: number; options: boolean[]; session: Cookie }
  | { endpoint: 'login'; method: 'GET' | 'POST'; client: ClientKey; redirect: number; csrf: Csrf; password: 'right' | 'wrong'; session: Cookie }
  | { endpoint: 'consent'; method: 'GET' | 'POST'; client: ClientKey; redirect: number; csrf: Csrf; decision: 'allow' | 'deny' | undefined; session: Cookie }
  | { endpoint: 'device'; method: 'GET' | 'POST'; code: 'pending' | 'unknown' | 'none'; csrf: Csrf; decision: 'allow' | 'deny' | undefined; session: Cookie }
  | { endpoint: 'device_login'; code: 'pending' | 'unknown' | 'none'; csrf: Csrf; password: 'right' | 'wrong' }
  | RegistrationBase;

/** Which cookie a browser request carries: alice's live session, an unknown one, or none. */
export type Cookie = 'live' | 'unknown' | 'none';
/** The form's CSRF token: the right one, none, or another form's. */
export type Csrf = 'valid' | 'none' | 'wrong';

export interface MutatedSpec {
  base: Base;
  mutations: Mutation[];
  from: string;
}

export interface RandomSpec {
  random: {
    method: string;
    path: string;
    query: [string, Hostile][];
    form: [string, Hostile][];
    headers: [string, Hostile][];
    contentType: string | null | undefined;
    body: RawBody | undefined;
  };
  from: string;
}

export type Spec = MutatedSpec | RandomSpec;

// ---- arbitraries of the valid requests -------------------------------------------------------------

const clientKey = fc.constantFrom(...CLIENT_KEYS);
const anyClient = fc.constantFrom<AnyClientKey>(...CLIENT_KEYS, 'api', 'ccOnly');
const options = (n: number) => fc.array(fc.boolean(), { minLength: n, maxLength: n });
const cookie = fc.constantFrom<Cookie>('live', 'live', 'unknown', 'none');
const tokenKind = fc.constantFrom<TokenKind>('client-token', 'user-token', 'refresh', 'opaque-token', 'exchange-subject');

export const tokenBase = (grant: fc.Arbitrary<Grant>): fc.Arbitrary<Base> =>
  fc.record({ endpoint: fc.constant('token' as const), grant, client: clientKey, pending: fc.boolean(), options: options(4), dpop: dpopProof });

/** RFC 9126 §2.1: the authorization request pushed with the client's authentication, a DPoP proof (RFC 9449 §10.1) or not. */
export const parBase: fc.Arbitrary<Base> = fc.record({
  endpoint: fc.constant('par' as const),
  client: clientKey,
  redirect: fc.nat({ max: 5 }),
  options: options(4),
  dpop: dpopProof,
  dpopJkt: fc.constantFrom<'none' | 'same' | 'other'>('none', 'none', 'same', 'other'),
});

export const introspectOrRevokeBase = (endpoint: 'introspect' | 'revoke'): fc.Arbitrary<Base> =>
  fc.record({
    endpoint: fc.constant(endpoint),
    client: fc.oneof({ weight: 4, arbitrary: clientKey }, { weight: 1, arbitrary: anyClient }),
    token: tokenKind,
    owner: fc.oneof({ weight: 3, arbitrary: fc.constant('same' as const) }, { weight: 1, arbitrary: anyClient }),
    hint: fc.constantFrom(undefined, 'access_token', 'refresh_token', 'id_token', 'urn:ietf:params:oauth:token-type:access_token'),
  }).map((b) => ({ ...b, owner: b.owner === 'same' ? b.client : b.owner }));

export const deviceAuthorizationBase: fc.Arbitrary<Base> = fc.record({
  endpoint: fc.constant('device_authorization' as const),
  client: clientKey,
  scope: fc.constantFrom('openid orders:read', USER_SCOPE, 'orders:read', 'openid'),
});

export const userinfoBase: fc.Arbitrary<Base> = fc.record({
  endpoint: fc.constant('userinfo' as const),
  method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
  carrier: fc.constantFrom<'header' | 'body'>('header', 'header', 'body'),
  token: fc.constantFrom<TokenKind>('user-token', 'user-token', 'user-token', 'client-token', 'opaque-token', 'refresh'),
  owner: anyClient,
});

export const authorizeBase: fc.Arbitrary<Base> = fc.record({
  endpoint: fc.constant('authorize' as const),
  method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
  client: clientKey,
  redirect: fc.nat({ max: 5 }),
  options: options(4),
  session: cookie,
});

const csrf = fc.constantFrom<Csrf>('valid', 'valid', 'none', 'wrong');

/** Login attempts that reach the password check cost an argon2 verification (~11 ms): few carry a valid CSRF token. */
export const loginBase: fc.Arbitrary<Base> = fc.record({
  endpoint: fc.constant('login' as const),
  method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST', 'POST'),
  client: clientKey,
  redirect: fc.nat({ max: 5 }),
  csrf: fc.oneof({ weight: 1, arbitrary: fc.constant<Csrf>('valid') }, { weight: 19, arbitrary: fc.constantFrom<Csrf>('none', 'wrong') }),
  password: fc.constantFrom<'right' | 'wrong'>('right', 'wrong'),
  session: cookie,
});

export const consentBase: fc.Arbitrary<Base> = fc.record({
  endpoint: fc.constant('consent' as const),
  method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST', 'POST'),
  client: clientKey,
  redirect: fc.nat({ max: 5 }),
  csrf,
  decision: fc.constantFrom<'allow' | 'deny' | undefined>('allow', 'deny', undefined),
  session: fc.constantFrom<Cookie>('live', 'live', 'live', 'unknown', 'none'),
});

export const deviceBase: fc.Arbitrary<Base> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      endpoint: fc.constant('device' as const),
      method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST', 'POST'),
      code: fc.constantFrom<'pending' | 'unknown' | 'none'>('pending', 'pending', 'unknown', 'none'),
      csrf,
      decision: fc.constantFrom<'allow' | 'deny' | undefined>('allow', 'deny', undefined, undefined),
      session: fc.constantFrom<Cookie>('live', 'live', 'live', 'unknown', 'none'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      endpoint: fc.constant('device_login' as const),
      code: fc.constantFrom<'pending' | 'unknown' | 'none'>('pending', 'unknown', 'none'),
      csrf: fc.oneof({ weight: 1, arbitrary: fc.constant<Csrf>('valid') }, { weight: 19, arbitrary: fc.constantFrom<Csrf>('none', 'wrong') }),
      password: fc.constantFrom<'right' | 'wrong'>('right', 'wrong'),
    }),
  },
);

export function mutated(base: fc.Arbitrary<Base>): fc.Arbitrary<Spec> {
  return fc.record({ base, mutations, from: remoteAddress });
}

// ---- random requests ------------------------------------------------------------------------------

export const KNOWN_PATHS = [
  '/token',
  '/par',
  '/introspect',
  '/revoke',
  '/device_authorization',
  '/userinfo',
  '/authorize',
  '/login',
  '/consent',
  '/device',
  '/device/login',
  '/logout',
  '/jwks',
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/healthz',
  '/readyz',
  '/assets/latchkey.css',
  '/register',
  '/register/f0e1d2c3b4a5968778695a4b3c2d1e0f',
] as const;

const oddPaths = fc.constantFrom(
  '/',
  '/TOKEN',
  '/token/',
  '//token',
  '/token;a=b',
  '/token%2F',
  '/%74oken',
  '/%2e%2e/token',
  '/token/../introspect',
  '/token%00',
  '/token%20',
  '/userinfo/',
  '/device/login/',
  '/assets/',
  '/assets/..%2f..%2fetc%2fpasswd',
  '/.well-known/oauth-authorization-server/extra',
  '/.well-known/',
  '/\u00e9',
  `/${'a/'.repeat(300)}`,
  '/*',
  '/token?',
  '/%',
  '/%zz',
);

const randomPath = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN_PATHS) },
  { weight: 2, arbitrary: oddPaths },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => `/${encodeURI(s).replace(/[?#]/g, '')}`) },
);

const pairs = (n: number) => fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAM_NAMES_FOR_RANDOM), fc.string({ maxLength: 10 })), hostile), { maxLength: n });
const PARAM_NAMES_FOR_RANDOM = ['grant_type', 'client_id', 'client_secret', 'scope', 'token', 'code', 'redirect_uri', 'response_type', 'state', 'access_token', 'csrf_token', 'user_code', 'username', 'password', 'request_uri'];

export const randomSpec: fc.Arbitrary<Spec> = fc.record({
  random: fc.record({
    method: fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'QUERY', 'CONNECT'),
    path: randomPath,
    query: pairs(4),
    form: pairs(5),
    headers: fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom('authorization', 'cookie', 'origin', 'x-forwarded-for', 'accept', 'content-length', 'expect', 'dpop'), fc.string({ minLength: 1, maxLength: 12 })),
        hostile,
      ),
      { maxLength: 3 },
    ),
    contentType: fc.option(fc.oneof(fc.constant(null), fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data; boundary=x')), { nil: undefined }),
    body: fc.option(rawBody, { nil: undefined, freq: 4 }),
  }),
  from: remoteAddress,
});

// ---- building ---------------------------------------------------------------------------------------

/** The concrete request of a spec, with live artifacts. */
export async function build(world: World, spec: Spec): Promise<FuzzRequest> {
  if ('random' in spec) return buildRandom(world, spec);
  return mutate(world, await buildBase(world, spec.base, spec.from), spec.mutations);
}

async function buildRandom(world: World, spec: RandomSpec): Promise<FuzzRequest> {
  const r = spec.random;
  const params: ArtifactParam[] = [];
  const add = async (where: Where, name: string, value: Hostile) => {
    const concrete = await hostileValue(world, value, undefined);
    params.push(concrete.raw ? { where, name: formEncode(name), value: concrete.value, raw: true } : { where, name, value: concrete.value });
  };
  for (const [name, value] of r.query) await add('query', name, value);
  for (const [name, value] of r.form) await add('form', name, value);
  for (const [name, value] of r.headers) await add('header', name, value);
  return {
    endpoint: 'random',
    method: r.method,
    path: r.path,
    params,
    ...(r.contentType !== undefined ? { contentType: r.contentType } : {}),
    ...(r.body !== undefined ? { body: rawBodyValue(r.body) } : {}),
    remoteAddress: spec.from,
  };
}

/** Client authentication in the client's own registered form. */
function credentials(world: World, key: AnyClientKey): ArtifactParam[] {
  const creds = world.credentials(key);
  const params: ArtifactParam[] = creds.form.map(([name, value]) => ({ where: 'form', name, value }));
  if (creds.header) params.unshift({ where: 'header', name: 'authorization', value: creds.header });
  return params;
}

/** The redirect URI a browser request names: one registered, a loopback one with a port, or none. */
function redirectUri(index: number): string | undefined {
  if (index < REDIRECT_URIS.length) return REDIRECT_URIS[index];
  return index === REDIRECT_URIS.length ? 'http://127.0.0.1:53127/cb' : undefined;
}

async function authorizationParams(world: World, client: ClientKey, redirect: number, flags: boolean[] = []): Promise<[string, string][]> {
  const { challenge } = pkcePair();
  const uri = redirectUri(redirect);
  const params: [string, string][] = [
    ['response_type', 'code'],
    ['client_id', world.client(client).clientId],
    ...(uri ? ([['redirect_uri', uri]] as [string, string][]) : []),
    ['scope', flags[0] ? 'orders:read' : USER_SCOPE],
    ['state', `st-${challenge.slice(0, 8)}`],
    ['nonce', `n-${challenge.slice(8, 16)}`],
    ['code_challenge', challenge],
    ['code_challenge_method', 'S256'],
  ];
  if (flags[1]) params.push(['prompt', flags[2] ? 'none' : 'login']);
  if (flags[3]) params.push(['max_age', '3600']);
  if (flags[2] && !flags[1]) params.push(['login_hint', 'alice']);
  return params;
}

async function sessionCookie(world: World, kind: Cookie, pool: string, maxUses?: number): Promise<ArtifactParam[]> {
  if (kind === 'none') return [];
  const value = kind === 'live' ? await world.session(pool, maxUses) : 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  return [{ where: 'cookie', name: 'latchkey_session', value }];
}

async function buildBase(world: World, base: Base, from: string): Promise<FuzzRequest> {
  const params: ArtifactParam[] = [];
  const form = (name: string, value: string, artifact?: ArtifactKind) => params.push({ where: 'form', name, value, ...(artifact ? { artifact } : {}) });
  switch (base.endpoint) {
    case 'register':
    case 'register_manage':
      return buildRegistration(world, base, from);
    case 'token': {
      const o = base.options;
      switch (base.grant) {
        case 'client_credentials':
          form('grant_type', 'client_credentials');
          if (o[0]) form('scope', 'orders:read');
          if (o[1]) form('resource', API);
          break;
        case 'authorization_code': {
          const code = await world.code(base.client);
          form('grant_type', 'authorization_code');
          form('code', code.code, 'code');
          form('code_verifier', code.verifier);
          form('redirect_uri', code.redirectUri);
          if (o[0]) form('resource', API);
          break;
        }
        case 'refresh_token':
          form('grant_type', 'refresh_token');
          form('refresh_token', await world.refreshToken(base.client), 'refresh');
          if (o[0]) form('scope', 'orders:read');
          if (o[1]) form('resource', API);
          break;
        case 'device_code':
          form('grant_type', DEVICE_CODE_GRANT);
          form('device_code', await world.deviceCode(base.client, !base.pending), base.pending ? 'device-pending' : 'device-approved');
          break;
        case 'token_exchange':
          form('grant_type', TOKEN_EXCHANGE_GRANT_TYPE);
          form('subject_token', await world.artifact('exchange-subject', base.client), 'exchange-subject');
          form('subject_token_type', ACCESS_TOKEN_TYPE);
          if (o[0]) form('resource', INVENTORY);
          if (o[1]) form('scope', 'inventory:read');
          if (o[2]) {
            form('actor_token', await world.artifact('client-token', base.client), 'client-token');
            form('actor_token_type', ACCESS_TOKEN_TYPE);
          }
          break;
      }
      params.push(...credentials(world, base.client));
      if (o[3] && base.client === 'jwt') form('client_id', world.client('jwt').clientId);
      if (base.dpop) params.push({ where: 'header', name: 'dpop', value: world.dpopProof(base.dpop, 'POST', '/token') });
      return { endpoint: 'token', method: 'POST', path: '/token', params, remoteAddress: from };
    }
    case 'par': {
      // RFC 9126 §2.1: client_id is required, as in any authorization request; a client that sends it
      // to authenticate (client_secret_post, none) sends it once.
      const auth = credentials(world, base.client);
      const authNamesClient = auth.some((p) => p.name === 'client_id');
      for (const [name, value] of await authorizationParams(world, base.client, base.redirect, base.options)) {
        if (name !== 'client_id' || !authNamesClient) form(name, value);
      }
      if (base.dpopJkt !== 'none') form('dpop_jkt', world.thumbprint(base.dpopJkt === 'same' ? world.dpopKey : world.rogue));
      params.push(...auth);
      if (base.dpop) params.push({ where: 'header', name: 'dpop', value: world.dpopProof(base.dpop, 'POST', '/par') });
      return { endpoint: 'par', method: 'POST', path: '/par', params, remoteAddress: from };
    }
    case 'introspect':
    case 'revoke': {
      form('token', await world.artifact(base.token, base.owner), base.token);
      if (base.hint) form('token_type_hint', base.hint);
      params.push(...credentials(world, base.client));
      return { endpoint: base.endpoint, method: 'POST', path: `/${base.endpoint}`, params, remoteAddress: from };
    }
    case 'device_authorization':
      form('scope', base.scope);
      params.push(...credentials(world, base.client));
      return { endpoint: 'device_authorization', method: 'POST', path: '/device_authorization', params, remoteAddress: from };
    case 'userinfo': {
      const token = await world.artifact(base.token, base.owner);
      if (base.carrier === 'header') params.push({ where: 'header', name: 'authorization', value: `Bearer ${token}`, artifact: base.token });
      else form('access_token', token, base.token);
      return { endpoint: 'userinfo', method: base.method, path: '/userinfo', params, remoteAddress: from };
    }
    case 'authorize':
    case 'login':
    case 'consent': {
      const where: Where = base.method === 'GET' ? 'query' : 'form';
      const flags = base.endpoint === 'authorize' ? base.options : [];
      for (const [name, value] of await authorizationParams(world, base.client, base.redirect, flags)) params.push({ where, name, value });
      if (base.endpoint === 'login') {
        params.push(...(await sessionCookie(world, base.session, 'login')));
        params.push({ where: 'cookie', name: 'latchkey_login', value: world.loginBinding });
        if (base.method === 'POST') {
          // A wrong token: a valid one of another form (the consent form of alice's session).
          if (base.csrf !== 'none') form('csrf_token', base.csrf === 'valid' ? await world.loginCsrf() : await world.consentCsrf(await world.session('page')));
          form('username', 'alice');
          form('password', base.password === 'right' ? world.user.password : 'not the password');
        }
      } else if (base.endpoint === 'consent') {
        const cookies = await sessionCookie(world, base.session, 'consent');
        params.push(...cookies);
        if (base.method === 'POST') {
          // Without a live session of its own, the request carries the token of another session.
          const session = base.session === 'live' ? cookies[0]!.value : await world.session('page');
          if (base.csrf !== 'none') form('csrf_token', base.csrf === 'valid' ? await world.consentCsrf(session) : await world.deviceCsrf(await world.session('page')));
          if (base.decision) form('decision', base.decision);
        }
      } else {
        params.push(...(await sessionCookie(world, base.session, 'authorize')));
      }
      return { endpoint: base.endpoint, method: base.method, path: `/${base.endpoint}`, params, remoteAddress: from };
    }
    case 'device': {
      const where: Where = base.method === 'GET' ? 'query' : 'form';
      const cookies = await sessionCookie(world, base.session, 'device', 10);
      params.push(...cookies);
      if (base.code !== 'none') params.push({ where, name: 'user_code', value: base.code === 'pending' ? await world.pageUserCode() : 'BCDF-GHJK' });
      if (base.method === 'POST') {
        const session = base.session === 'live' ? cookies[0]!.value : await world.session('page');
        if (base.csrf !== 'none') form('csrf_token', base.csrf === 'valid' ? await world.deviceCsrf(session) : await world.consentCsrf(await world.session('page')));
        if (base.decision) form('decision', base.decision);
      }
      return { endpoint: 'device', method: base.method, path: '/device', params, remoteAddress: from };
    }
    case 'device_login': {
      params.push({ where: 'cookie', name: 'latchkey_login', value: world.loginBinding });
      if (base.csrf !== 'none') form('csrf_token', base.csrf === 'valid' ? await world.loginCsrf() : await world.consentCsrf(await world.session('page')));
      form('username', 'alice');
      form('password', base.password === 'right' ? world.user.password : 'not the password');
      if (base.code !== 'none') form('user_code', base.code === 'pending' ? await world.pageUserCode() : 'BCDF-GHJK');
      return { endpoint: 'device_login', method: 'POST', path: '/device/login', params, remoteAddress: from };
    }
  }
}
