import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { forge } from './forge.ts';
import { authorizationHeader, contentType, headerName, hostile, hostileText, paramName, type Hostile } from './hostile.ts';
import { formEncode, type FuzzRequest, type Param, type Where } from './http-model.ts';
import type { AnyClientKey, ArtifactKind, World } from './world.ts';

/**
 * Mutations of a valid request, each a small readable record in a counterexample: a parameter
 * removed, repeated, replaced by a hostile value, added, moved elsewhere (the body's credentials into
 * the query string), swapped for another client's artifact; the content type, the Authorization
 * header, the body or the method replaced; the client assertion re-signed with one claim or header
 * changed.
 */

/** A parameter that holds a pooled artifact, so it can be swapped for another client's. */
export interface ArtifactParam extends Param {
  artifact?: ArtifactKind;
}

export type RawBody = { bytes: Uint8Array } | { text: string } | { json: unknown } | { repeat: string; times: number };

export type ClaimValue =
  | 'missing'
  | 'other-client'
  | 'issuer'
  | 'issuer-slash'
  | 'introspect-endpoint'
  | 'array-ours'
  | 'array-with-other'
  | 'expired'
  | 'in-299s'
  | 'in-400s'
  | 'in-1h'
  | 'string'
  | 'float'
  | 'huge'
  | 'negative'
  | 'future'
  | 'long'
  | 'empty'
  | 'object'
  | 'null'
  | 'reused';

export type AssertionChange =
  | { claim: 'iss' | 'sub' | 'aud' | 'exp' | 'iat' | 'nbf' | 'jti'; to: ClaimValue }
  | { header: 'alg-none' | 'hs256' | 'no-kid' | 'kid-unknown' | 'kid-of-other-key' | 'typ-at+jwt' | 'crit' | 'jku' | 'jwk' }
  | { signer: 'rogue' | 'ed25519' }
  | { claimsToBe: AnyClientKey };

export type Mutation =
  | { remove: number }
  | { repeat: number; value?: Hostile }
  | { replace: number; value: Hostile }
  | { add: Where; name: string; value: Hostile }
  | { move: number; to: Where }
  | { swap: number; to: AnyClientKey }
  | { contentType: string | null }
  | { authorization: Hostile; alsoKeep: boolean }
  | { header: string; value: Hostile }
  | { cookie: string; value: Hostile }
  | { body: RawBody }
  | { method: string }
  | { assertion: AssertionChange };

const where = fc.constantFrom<Where>('form', 'query', 'header', 'cookie');
const at = fc.nat({ max: 40 });
const otherClient = fc.constantFrom<AnyClientKey>('basic', 'post', 'jwt', 'none', 'api', 'ccOnly');

export const rawBody: fc.Arbitrary<RawBody> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ bytes })),
  hostileText.map((text) => ({ text })),
  fc.jsonValue({ maxDepth: 3 }).map((json) => ({ json })),
  fc.constantFrom<RawBody>(
    { text: '------x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n------x--\r\n' },
    { text: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>' },
    { text: 'grant_type=client_credentials&grant_type=client_credentials' },
    { text: '&&&===&&&' },
    { text: '=' },
    { text: '%' },
    { text: 'a=%zz&b=%' },
    { text: '\uFEFFgrant_type=client_credentials' },
    { bytes: Uint8Array.from([0xff, 0xfe, 0x67, 0x00, 0x72, 0x00]) },
    { bytes: Uint8Array.from([0x1f, 0x8b, 0x08, 0x00]) },
    { repeat: 'a=b&', times: 20_000 },
    { repeat: '&', times: 70_000 },
    { repeat: 'x', times: 65_537 },
  ),
);

const claimValue = fc.constantFrom<ClaimValue>(
  'missing',
  'other-client',
  'issuer',
  'issuer-slash',
  'introspect-endpoint',
  'array-ours',
  'array-with-other',
  'expired',
  'in-299s',
  'in-400s',
  'in-1h',
  'string',
  'float',
  'huge',
  'negative',
  'future',
  'long',
  'empty',
  'object',
  'null',
  'reused',
);

export const assertionChange: fc.Arbitrary<AssertionChange> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ claim: fc.constantFrom('iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti') as fc.Arbitrary<'iss'>, to: claimValue }) },
  {
    weight: 2,
    arbitrary: fc.record({
      header: fc.constantFrom('alg-none', 'hs256', 'no-kid', 'kid-unknown', 'kid-of-other-key', 'typ-at+jwt', 'crit', 'jku', 'jwk') as fc.Arbitrary<'alg-none'>,
    }),
  },
  { weight: 1, arbitrary: fc.record({ signer: fc.constantFrom('rogue', 'ed25519') as fc.Arbitrary<'rogue'> }) },
  { weight: 1, arbitrary: fc.record({ claimsToBe: otherClient }) },
);

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ remove: at }) },
  { weight: 2, arbitrary: fc.record({ repeat: at, value: hostile }, { requiredKeys: ['repeat'] }) },
  { weight: 10, arbitrary: fc.record({ replace: at, value: hostile }) },
  { weight: 3, arbitrary: fc.record({ add: where, name: paramName, value: hostile }) },
  { weight: 1, arbitrary: fc.record({ move: at, to: where }) },
  { weight: 2, arbitrary: fc.record({ swap: at, to: otherClient }) },
  { weight: 2, arbitrary: fc.record({ contentType }) },
  { weight: 2, arbitrary: fc.record({ authorization: authorizationHeader, alsoKeep: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ header: headerName, value: hostile }) },
  { weight: 1, arbitrary: fc.record({ cookie: fc.oneof(fc.constantFrom('latchkey_session', 'latchkey_login', '__Host-latchkey_session'), fc.string({ maxLength: 10 })), value: hostile }) },
  { weight: 1, arbitrary: fc.record({ body: rawBody }) },
  { weight: 1, arbitrary: fc.record({ method: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'POST') }) },
  { weight: 2, arbitrary: fc.record({ assertion: assertionChange }) },
);

/** Zero to three mutations; a tenth of the requests stay valid. */
export const mutations: fc.Arbitrary<Mutation[]> = fc.oneof(
  { weight: 1, arbitrary: fc.constant([] as Mutation[]) },
  { weight: 9, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
);

export function rawBodyValue(body: RawBody): string | Buffer {
  if ('bytes' in body) return Buffer.from(body.bytes);
  if ('text' in body) return body.text;
  if ('json' in body) return JSON.stringify(body.json) ?? 'null';
  return body.repeat.repeat(body.times);
}

/** A hostile value made concrete for `param` (a forged JWT is forged from the parameter's own value when it is one). */
export async function hostileValue(world: World, value: Hostile, current: string | undefined): Promise<{ value: string; raw?: boolean }> {
  if ('text' in value) return { value: value.text };
  if ('raw' in value) return { value: value.raw, raw: true };
  if ('repeat' in value) return { value: value.repeat.repeat(value.times) };
  const base = current !== undefined && /^[\w-]+\.[\w-]+\.[\w-]*$/.test(current) ? current : await world.artifact('user-token', 'basic');
  return { value: await forge(world, base, value.jwt) };
}

function paramWith(param: ArtifactParam, concrete: { value: string; raw?: boolean }): ArtifactParam {
  const { artifact: _artifact, raw: _raw, ...rest } = param;
  return concrete.raw ? { ...rest, name: formEncode(rest.name), value: concrete.value, raw: true } : { ...rest, value: concrete.value };
}

function claimValueOf(world: World, claim: string, to: ClaimValue, clientId: string): unknown {
  const now = Math.floor(Date.now() / 1000);
  switch (to) {
    case 'missing':
      return undefined;
    case 'other-client':
      return world.client('basic').clientId === clientId ? world.client('post').clientId : world.client('basic').clientId;
    case 'issuer':
      return world.issuer;
    case 'issuer-slash':
      return `${world.issuer}/`;
    case 'introspect-endpoint':
      return `${world.issuer}/introspect`;
    case 'array-ours':
      return [world.issuer, `${world.issuer}/token`];
    case 'array-with-other':
      return [`${world.issuer}/token`, 'https://evil.example'];
    case 'expired':
      return now - 600;
    case 'in-299s':
      return now + 299;
    case 'in-400s':
      return now + 400;
    case 'in-1h':
      return now + 3600;
    case 'string':
      return claim === 'exp' || claim === 'iat' || claim === 'nbf' ? String(now + 60) : 'some string';
    case 'float':
      return now + 60.5;
    case 'huge':
      return 1e308;
    case 'negative':
      return -1;
    case 'future':
      return now + 600;
    case 'long':
      return 'x'.repeat(5000);
    case 'empty':
      return '';
    case 'object':
      return { nested: [1, 2, 3] };
    case 'null':
      return null;
    case 'reused':
      return claim === 'jti' ? (world.lastJti.get(clientId) ?? 'never-used') : clientId;
  }
}

/** A client assertion of the jwt client (or the one it claims to be), changed as asked. */
function changedAssertion(world: World, change: AssertionChange): string {
  if ('claimsToBe' in change) return world.assertion(change.claimsToBe, { signer: world.client('jwt').keys![0]! });
  const jwt = world.client('jwt');
  if ('signer' in change) return world.assertion('jwt', change.signer === 'rogue' ? { signer: world.rogue } : { keyIndex: 1 });
  if ('claim' in change) {
    const value = claimValueOf(world, change.claim, change.to, jwt.clientId);
    return world.assertion('jwt', { claims: { [change.claim]: value } });
  }
  switch (change.header) {
    case 'alg-none': {
      const parts = world.assertion('jwt').split('.');
      return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${parts[1]}.`;
    }
    case 'hs256': {
      const parts = world.assertion('jwt').split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'fuzz-es256' })).toString('base64url');
      const pem = jwt.keys![0]!.publicKey.export({ type: 'spki', format: 'pem' });
      return `${header}.${parts[1]}.${createHmac('sha256', pem).update(`${header}.${parts[1]}`).digest('base64url')}`;
    }
    case 'no-kid':
      return world.assertion('jwt', { header: { kid: undefined } });
    case 'kid-unknown':
      return world.assertion('jwt', { header: { kid: 'unknown-kid' } });
    case 'kid-of-other-key':
      return world.assertion('jwt', { header: { kid: 'fuzz-ed25519' } });
    case 'typ-at+jwt':
      return world.assertion('jwt', { header: { typ: 'at+jwt' } });
    case 'crit':
      return world.assertion('jwt', { header: { crit: ['exp'] } });
    case 'jku':
      return world.assertion('jwt', { header: { jku: 'https://evil.example/jwks' }, signer: world.rogue });
    case 'jwk':
      return world.assertion('jwt', { header: { jwk: world.rogue.publicKey.export({ format: 'jwk' }) }, signer: world.rogue });
  }
}

/** Applies the mutations in order. */
export async function mutate(world: World, request: FuzzRequest, list: Mutation[]): Promise<FuzzRequest> {
  let req: FuzzRequest = { ...request, params: [...request.params] };
  for (const m of list) req = await applyOne(world, req, m);
  return req;
}

async function applyOne(world: World, req: FuzzRequest, m: Mutation): Promise<FuzzRequest> {
  const params = req.params as ArtifactParam[];
  const pick = (i: number) => (params.length === 0 ? -1 : i % params.length);
  if ('remove' in m) {
    const i = pick(m.remove);
    if (i >= 0) params.splice(i, 1);
  } else if ('repeat' in m) {
    const i = pick(m.repeat);
    if (i >= 0) {
      const p = params[i]!;
      params.splice(i + 1, 0, m.value === undefined ? { ...p } : paramWith(p, await hostileValue(world, m.value, p.value)));
    }
  } else if ('replace' in m) {
    const i = pick(m.replace);
    if (i >= 0) params[i] = paramWith(params[i]!, await hostileValue(world, m.value, params[i]!.value));
  } else if ('add' in m) {
    params.push(paramWith({ where: m.add, name: m.name, value: '' }, await hostileValue(world, m.value, undefined)));
  } else if ('move' in m) {
    const i = pick(m.move);
    if (i >= 0) params[i] = { ...params[i]!, where: m.to };
  } else if ('swap' in m) {
    const i = pick(m.swap);
    const p = params[i];
    if (p?.artifact) params[i] = { ...p, value: await world.artifact(p.artifact, m.to) };
  } else if ('contentType' in m) {
    return { ...req, contentType: m.contentType };
  } else if ('authorization' in m) {
    const value = await hostileValue(world, m.authorization, params.find((p) => p.where === 'header' && p.name === 'authorization')?.value);
    const kept = m.alsoKeep ? params : params.filter((p) => !(p.where === 'header' && p.name === 'authorization'));
    return { ...req, params: [...kept, { where: 'header', name: 'authorization', value: value.value }] };
  } else if ('header' in m) {
    params.push({ where: 'header', name: m.header, value: (await hostileValue(world, m.value, undefined)).value });
  } else if ('cookie' in m) {
    params.push({ where: 'cookie', name: m.cookie, value: (await hostileValue(world, m.value, undefined)).value });
  } else if ('body' in m) {
    return { ...req, body: rawBodyValue(m.body) };
  } else if ('method' in m) {
    return { ...req, method: m.method };
  } else if ('assertion' in m) {
    const assertion = changedAssertion(world, m.assertion);
    const i = params.findIndex((p) => p.name === 'client_assertion');
    if (i >= 0) params[i] = { ...params[i]!, value: assertion };
    else params.push({ where: 'form', name: 'client_assertion_type', value: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' }, { where: 'form', name: 'client_assertion', value: assertion });
  }
  return { ...req, params };
}
