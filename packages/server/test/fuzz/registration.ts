import fc from 'fast-check';
import { authorizationHeader, contentType, headerName, hostile, hostileText } from './hostile.ts';
import { jsonObjectText, type FuzzRequest } from './http-model.ts';
import { generateSigningKey, publicJwk } from './jwt.ts';
import { mutation, rawBody, type ArtifactParam, type Mutation, type RawBody } from './mutations.ts';
import type { World } from './world.ts';

/**
 * Dynamic client registration (RFC 7591 `POST /register`) and the client configuration endpoint
 * (RFC 7592 `GET`, `PUT`, `DELETE /register/{client_id}`): JSON bodies, not forms. A registration
 * document is a list of members (name and JSON text), sent in order as a JSON object (http-model.ts:
 * `json` parameters), so that mutations can remove a member, write it twice (duplicate keys), give it a
 * value of the wrong JSON type, or replace the body with something that is not JSON at all.
 */

/** A member of a registration document: its name and its value as JSON text. */
export type Member = [name: string, json: string];

/** The kinds of registered clients the world keeps for RFC 7592 requests (by authentication method). */
export const REGISTERED_KINDS = ['none', 'basic', 'post', 'jwt'] as const;
export type RegisteredKind = (typeof REGISTERED_KINDS)[number];

const METHOD_OF: Record<RegisteredKind, string> = { none: 'none', basic: 'client_secret_basic', post: 'client_secret_post', jwt: 'private_key_jwt' };

/** Which registration access token an RFC 7592 request carries. */
export type ManageToken = 'right' | 'wrong' | 'none' | 'other' | 'previous' | 'secret' | 'basic';
/** Which client an RFC 7592 request names in its path. */
export type ManageTarget = 'own' | 'unknown' | 'operator' | 'odd';

/** With LATCHKEY_REGISTRATION=initial-access-token: which initial access token (RFC 7591 §3) a registration carries. */
export const INITIAL_TOKENS = ['live', 'single-use', 'used-up', 'expired', 'revoked', 'wrong', 'none'] as const;
export type InitialToken = (typeof INITIAL_TOKENS)[number];

export type RegistrationBase =
  | { endpoint: 'register'; document: Member[]; initialToken?: InitialToken }
  | {
      endpoint: 'register_manage';
      method: 'GET' | 'PUT' | 'DELETE';
      kind: RegisteredKind;
      slot: number;
      target: ManageTarget;
      odd: number;
      token: ManageToken;
      /** PUT: the new document, its client_id (RFC 7592 §2.2: required and the same) and client_secret. */
      document: Member[];
      clientId: 'right' | 'missing' | 'other';
      secret: 'none' | 'right' | 'wrong' | 'null';
    };

/** One key for every private_key_jwt registration of the run (its public JWK is what is registered). */
const REGISTRATION_KEY = generateSigningKey('ES256', 'fuzz-registration');
const JWKS_TEXT = JSON.stringify({ keys: [publicJwk(REGISTRATION_KEY)] });

/** An unsigned JWT, well-formed: RFC 7591 §3.2.2 unapproved_software_statement (no statement is approved). */
const STATEMENT = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"software_id":"fuzz","iss":"https://app.example"}').toString('base64url')}.c2lnbmF0dXJl`;

const GOOD_REDIRECTS = [
  'https://app.example/callback',
  'https://app.example/cb/other',
  'http://127.0.0.1/callback',
  'http://127.0.0.1:8400/cb',
  'http://[::1]/cb',
  'com.example.app:/oauth2redirect',
  'com.example.app:/callback',
];
const DOUBTFUL_REDIRECTS = [
  'http://localhost/cb',
  'http://localhost:3000/cb',
  'https://app.example/cb?x=1',
  'https://app.example/cb#frag',
  'myapp://callback',
  'http://app.example/cb',
  'javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'https://*.example/cb',
  'urn:ietf:wg:oauth:2.0:oob',
  'https://user:pw@app.example/cb',
  'https://app.example/../cb',
  'HTTPS://APP.EXAMPLE/CB',
  'http://127.0.0.1.nip.io/cb',
  'http://[::ffff:127.0.0.1]/cb',
  'file:///etc/passwd',
  '/relative/cb',
  '',
  'https://app.example/\u00e9',
  `https://app.example/${'a'.repeat(3000)}`,
];

const redirect = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...GOOD_REDIRECTS) }, { weight: 1, arbitrary: fc.constantFrom(...DOUBTFUL_REDIRECTS) });

const DISPLAY: Member[] = [
  ['client_name', JSON.stringify('Fuzz App \u00e9\u{1f511}')],
  ['client_uri', JSON.stringify('https://app.example/')],
  ['logo_uri', JSON.stringify('https://app.example/logo.png')],
  ['policy_uri', JSON.stringify('https://app.example/policy')],
  ['tos_uri', JSON.stringify('https://app.example/tos')],
  ['contacts', JSON.stringify(['ops@app.example', 'security@app.example'])],
  ['software_id', JSON.stringify('4NRB1-0XZABZI9E6-5SM3R')],
  ['software_version', JSON.stringify('2.1.0')],
];

/** `arbitrary` present `present` times in `present + absent`. */
const maybe = <T>(arbitrary: fc.Arbitrary<T>, present: number, absent: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: present, arbitrary }, { weight: absent, arbitrary: fc.constant(undefined) });
const mostly = <T>(usual: T[], odd: T[], weight = 4): fc.Arbitrary<T> =>
  fc.oneof({ weight, arbitrary: fc.constantFrom(...usual) }, { weight: 1, arbitrary: fc.constantFrom(...odd) });

/** A registration document, mostly valid: every authentication method, redirect URIs of every kind, grants, scopes, display members. */
export const registrationDocument: fc.Arbitrary<Member[]> = fc
  .record({
    method: fc.constantFrom<string | undefined>('none', 'none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt', undefined),
    redirects: maybe(fc.array(redirect, { minLength: 1, maxLength: 3 }), 12, 1),
    grants: maybe(
      mostly<string[]>([['authorization_code'], ['authorization_code', 'refresh_token'], ['refresh_token', 'authorization_code', 'authorization_code']], [['client_credentials'], ['implicit'], ['refresh_token'], []]),
      1,
      1,
    ),
    responseTypes: maybe(mostly<string[]>([['code'], ['code', 'code']], [['token'], ['code id_token'], []]), 1, 2),
    scope: maybe(
      mostly(
        ['openid', 'openid notes:read', 'notes:read', 'openid profile email offline_access notes:read', '', '  openid   notes:read '],
        ['notes:write', 'orders:read', 'openid unknown:scope'],
      ),
      3,
      1,
    ),
    display: fc.subarray(DISPLAY),
    alg: maybe(mostly(['ES256', 'RS256'], ['none', 'HS256', 'PS256']), 1, 3),
    postLogout: maybe(fc.array(redirect, { maxLength: 2 }), 1, 4),
    keys: fc.constantFrom<'fit' | 'inline' | 'uri' | 'both'>('fit', 'fit', 'fit', 'fit', 'fit', 'fit', 'fit', 'fit', 'inline', 'uri', 'both'),
    statement: maybe(fc.constantFrom('not-a-jwt', STATEMENT, 'a.b.c'), 1, 20),
  })
  .map((d) => {
    const members: Member[] = [];
    const add = (name: string, value: unknown) => members.push([name, JSON.stringify(value)]);
    if (d.redirects) add('redirect_uris', d.redirects);
    if (d.method !== undefined) add('token_endpoint_auth_method', d.method);
    if (d.grants) add('grant_types', d.grants);
    if (d.responseTypes) add('response_types', d.responseTypes);
    if (d.scope !== undefined) add('scope', d.scope);
    members.push(...d.display);
    if (d.alg) add('id_token_signed_response_alg', d.alg);
    if (d.postLogout) add('post_logout_redirect_uris', d.postLogout);
    const jwt = d.method === 'private_key_jwt';
    const keys = d.keys === 'fit' ? (jwt ? 'inline' : 'none') : d.keys;
    if (keys === 'inline' || keys === 'both') members.push(['jwks', JWKS_TEXT]);
    if (keys === 'uri' || keys === 'both') add('jwks_uri', 'https://app.example/jwks.json');
    if (d.statement) add('software_statement', d.statement);
    return members;
  });

/** JSON values of every type for a member: wrong types, huge and odd strings, deep nesting, unicode. */
export const jsonHostile: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'null', 'true', 'false', '0', '-1', '1e400', '-0', '1.5', '9007199254740993', '""', '" "', '[]', '{}', '[null]', '[1,2]', '[[]]', '[{}]',
      '["a",1]', '[""]', '{"a":"b"}', '{"keys":[]}', '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}', '{"keys":"x"}', '{"__proto__":{"admin":true}}',
      '"\\u0000"', '"\\ud800"', '"\\udc00\\ud800"', '"\\u202e\\u0644"', '"\u00e9\u{1f511}"', '"\\n"', '"a\\u0000b"', '["\\ud800"]',
      JSON.stringify(Array.from({ length: 11 }, (_, i) => `https://app.example/cb${i}`)),
      JSON.stringify(Array.from({ length: 6 }, (_, i) => `c${i}@app.example`)),
      JSON.stringify('x'.repeat(201)),
      JSON.stringify('x'.repeat(2001)),
      JSON.stringify('x'.repeat(17_000)),
      JSON.stringify(['x'.repeat(3000)]),
      `${'['.repeat(2000)}${']'.repeat(2000)}`,
      `${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}`,
    ),
  },
  { weight: 3, arbitrary: hostileText.map((t) => JSON.stringify(t)) },
  { weight: 2, arbitrary: hostileText.map((t) => JSON.stringify([t])) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((s) => JSON.stringify(s)) },
);

/** Member names: every RFC 7591/7592 one, the server-provided ones, prototype keys, odd names. */
export const memberName = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'redirect_uris', 'token_endpoint_auth_method', 'grant_types', 'response_types', 'client_name', 'client_uri', 'logo_uri', 'scope', 'contacts',
      'tos_uri', 'policy_uri', 'jwks_uri', 'jwks', 'software_id', 'software_version', 'software_statement', 'post_logout_redirect_uris',
      'id_token_signed_response_alg', 'client_id', 'client_secret', 'registration_access_token', 'registration_client_uri', 'client_id_issued_at',
      'client_secret_expires_at', 'first_party', 'introspect_for', 'source', 'client_name#ja-Jpan-JP', 'type',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', '', ' ', '\u0000', 'redirect_uris ', 'REDIRECT_URIS') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** Bodies that are not a registration document: invalid JSON, other top-level values, other encodings, too large. */
export const registrationRawBody: fc.Arbitrary<RawBody> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom<RawBody>(
      { text: '' },
      { text: '{' },
      { text: '{"redirect_uris":}' },
      { text: "{'redirect_uris':['https://app.example/callback']}" },
      { text: '{"redirect_uris":["https://app.example/callback"],}' },
      { text: '{"redirect_uris":["https://app.example/callback"]} {}' },
      { text: '{"redirect_uris":["https://app.example/callback"]}\u0000' },
      { text: '\uFEFF{"redirect_uris":["https://app.example/callback"],"token_endpoint_auth_method":"none"}' },
      { text: '/* comment */ {}' },
      { text: 'NaN' },
      { text: 'null' },
      { text: '[]' },
      { text: '[{"redirect_uris":["https://app.example/callback"]}]' },
      { text: '"a string"' },
      { text: '42' },
      { text: 'true' },
      { text: '{"__proto__":{"token_endpoint_auth_method":"none"},"redirect_uris":["https://app.example/callback"]}' },
      { text: '{"constructor":{"prototype":{"firstParty":true}},"redirect_uris":["https://app.example/callback"],"token_endpoint_auth_method":"none"}' },
      { text: 'redirect_uris=https%3A%2F%2Fapp.example%2Fcallback&token_endpoint_auth_method=none' },
      { bytes: Uint8Array.from(Buffer.from('{"redirect_uris":["https://app.example/callback"],"token_endpoint_auth_method":"none"}', 'utf16le')) },
      { bytes: Uint8Array.from([0x7b, 0x22, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x5f, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]) },
      { text: `${'['.repeat(8000)}${']'.repeat(8000)}` },
      { text: `{"client_name":"${'x'.repeat(17_000)}","redirect_uris":["https://app.example/callback"],"token_endpoint_auth_method":"none"}` },
      { text: `{"client_name":"${'x'.repeat(16_250)}","redirect_uris":["https://app.example/callback"],"token_endpoint_auth_method":"none"}` },
      { repeat: '{"a":1}', times: 3000 },
      { repeat: ' ', times: 20_000 },
    ),
  },
  { weight: 1, arbitrary: rawBody },
);

/** Content types a JSON endpoint may be sent. `null`: none at all. */
export const registrationContentType: fc.Arbitrary<string | null> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom<string | null>(
      null,
      '',
      'application/json; charset=utf-8',
      'application/json;charset=UTF-16',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
      'Application/Json ; charset="utf-8"',
      'application/json, text/plain',
      'application/jsonx',
      'application/json-patch+json',
      'application/merge-patch+json',
      'application/jwt',
      'text/json',
      'application/x-www-form-urlencoded',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/json; boundary=x',
      'application/json;;;',
    ),
  },
  { weight: 1, arbitrary: contentType },
);

const at = fc.nat({ max: 40 });

/** Mutations of a registration request: its members first, then the body, the content type, the token, the method. */
export const registrationMutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ jsonMember: at, text: jsonHostile }) },
  { weight: 3, arbitrary: fc.record({ jsonAdd: memberName, text: jsonHostile }) },
  { weight: 3, arbitrary: fc.record({ remove: at }) },
  // A member written twice (duplicate keys in the raw JSON), the second time as given or hostile.
  { weight: 2, arbitrary: fc.record({ repeat: at, value: hostile }, { requiredKeys: ['repeat'] }) },
  { weight: 2, arbitrary: fc.record({ replace: at, value: hostile }) },
  { weight: 2, arbitrary: fc.record({ body: registrationRawBody }) },
  { weight: 2, arbitrary: fc.record({ contentType: registrationContentType }) },
  { weight: 2, arbitrary: fc.record({ authorization: authorizationHeader, alsoKeep: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ method: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'POST') }) },
  { weight: 1, arbitrary: fc.record({ move: at, to: fc.constantFrom<'form' | 'query' | 'header'>('form', 'query', 'header') }) },
  { weight: 1, arbitrary: fc.record({ header: headerName, value: hostile }) },
  { weight: 2, arbitrary: mutation },
);

/** Zero to three mutations; a fifth of the requests stay valid (the rest is where the refusals are). */
export const registrationMutations: fc.Arbitrary<Mutation[]> = fc.oneof(
  { weight: 1, arbitrary: fc.constant([] as Mutation[]) },
  { weight: 4, arbitrary: fc.array(registrationMutation, { minLength: 1, maxLength: 3 }) },
);

/**
 * The caller's address: most from addresses of their own (never near the hourly limit), a tenth from
 * one address that goes over it (RFC 7591 §5: 429 from then on).
 */
export const FLOODED_ADDRESS = '203.0.113.77';
export const registrationAddress: fc.Arbitrary<string> = fc.oneof(
  { weight: 9, arbitrary: fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 255 })).map(([a, b]) => `198.18.${a}.${b}`) },
  { weight: 1, arbitrary: fc.constant(FLOODED_ADDRESS) },
);

export const registerBase: fc.Arbitrary<RegistrationBase> = fc.record({ endpoint: fc.constant('register' as const), document: registrationDocument });

/** For a server whose registration needs an initial access token: mostly a live one, else every way of not having one. */
export const initialTokenRegisterBase: fc.Arbitrary<RegistrationBase> = fc.record({
  endpoint: fc.constant('register' as const),
  document: registrationDocument,
  initialToken: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom<InitialToken>('live', 'live', 'single-use') },
    { weight: 3, arbitrary: fc.constantFrom<InitialToken>('used-up', 'expired', 'revoked', 'wrong', 'none') },
  ),
});

export const manageBase: fc.Arbitrary<RegistrationBase> = fc.record({
  endpoint: fc.constant('register_manage' as const),
  method: fc.constantFrom<'GET' | 'PUT' | 'DELETE'>('GET', 'GET', 'GET', 'PUT', 'PUT', 'PUT', 'PUT', 'DELETE'),
  kind: fc.constantFrom(...REGISTERED_KINDS),
  slot: fc.nat({ max: 1 }),
  target: fc.oneof({ weight: 12, arbitrary: fc.constant<ManageTarget>('own') }, { weight: 1, arbitrary: fc.constantFrom<ManageTarget>('unknown', 'operator', 'odd') }),
  odd: fc.nat({ max: 100 }),
  token: fc.oneof({ weight: 3, arbitrary: fc.constant<ManageToken>('right') }, { weight: 1, arbitrary: fc.constantFrom<ManageToken>('wrong', 'none', 'other', 'previous', 'secret', 'basic') }),
  document: registrationDocument,
  clientId: fc.constantFrom<'right' | 'missing' | 'other'>('right', 'right', 'right', 'right', 'right', 'right', 'missing', 'other'),
  secret: fc.constantFrom<'none' | 'right' | 'wrong' | 'null'>('none', 'none', 'none', 'none', 'right', 'wrong', 'null'),
});

/** Client ids that are no client's, of odd shapes (encoded slashes, very long, unicode; no dot segments: the URL parser resolves those away from the path). */
const ODD_IDS = ['a%2Fb', '%00', '%zz', '%', 'x'.repeat(5000), '%C3%A9', '%F0%9F%94%91', '%E2%80%AE', '%20', '*', '__proto__', 'constructor', 'null', '0', '-1', 'a;b', 'a%3Fb'];

/** A registration document that every policy registers: the world's pooled clients are made of it. */
export function validDocument(kind: RegisteredKind): Record<string, unknown> {
  return {
    client_name: `fuzz registered ${kind}`,
    redirect_uris: ['https://app.example/callback', 'http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: METHOD_OF[kind],
    scope: 'openid notes:read',
    ...(kind === 'jwt' ? { jwks: JSON.parse(JWKS_TEXT) as unknown } : {}),
  };
}

export async function buildRegistration(world: World, base: RegistrationBase, from: string): Promise<FuzzRequest> {
  const params: ArtifactParam[] = [];
  const members = (document: Member[]) => {
    for (const [name, json] of document) params.push({ where: 'json', name, value: '', json });
  };
  if (base.endpoint === 'register') {
    if (base.initialToken !== undefined && base.initialToken !== 'none') {
      params.push({ where: 'header', name: 'authorization', value: `Bearer ${await world.initialAccessToken(base.initialToken)}` });
    }
    members(base.document);
    return { endpoint: 'register', method: 'POST', path: '/register', params, json: true, remoteAddress: from };
  }
  const own = await world.registeredClient(base.kind, base.slot);
  const other = await world.registeredClient(base.kind === 'none' ? 'basic' : 'none', base.slot);
  const pathId =
    base.target === 'own'
      ? encodeURIComponent(own.clientId)
      : base.target === 'unknown'
        ? 'f0e1d2c3b4a5968778695a4b3c2d1e0f'
        : base.target === 'operator'
          ? encodeURIComponent(world.client('basic').clientId)
          : ODD_IDS[base.odd % ODD_IDS.length]!;
  const bearer = (token: string) => params.push({ where: 'header', name: 'authorization', value: `Bearer ${token}` });
  switch (base.token) {
    case 'right':
      bearer(own.token);
      break;
    case 'wrong':
      bearer('Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MDEyMzQ1Njc4OTAx');
      break;
    case 'other':
      bearer(other.token);
      break;
    case 'previous':
      bearer(own.previous ?? own.token.split('').reverse().join(''));
      break;
    case 'secret':
      bearer(own.secret ?? own.clientId);
      break;
    case 'basic':
      params.push({ where: 'header', name: 'authorization', value: `Basic ${Buffer.from(`${own.clientId}:${own.secret ?? ''}`).toString('base64')}` });
      break;
    case 'none':
      break;
  }
  const request: FuzzRequest = { endpoint: 'register_manage', method: base.method, path: `/register/${pathId}`, params, remoteAddress: from };
  if (base.method !== 'PUT') return request;
  if (base.clientId !== 'missing') params.push({ where: 'json', name: 'client_id', value: base.clientId === 'right' ? own.clientId : other.clientId });
  members(base.document);
  if (base.secret === 'right' && own.secret) params.push({ where: 'json', name: 'client_secret', value: own.secret });
  if (base.secret === 'wrong') params.push({ where: 'json', name: 'client_secret', value: 'not-the-secret' });
  if (base.secret === 'null') params.push({ where: 'json', name: 'client_secret', value: '', json: 'null' });
  return { ...request, json: true };
}

/** The JSON text of a registration request's members (for the world's own setup requests). */
export const documentText = (document: Record<string, unknown>): string =>
  jsonObjectText(Object.entries(document).map(([name, value]) => ({ where: 'json', name, value: '', json: JSON.stringify(value) })));
