import { isIP } from 'node:net';
import { resolve } from 'node:path';
import {
  CLIENT_OPTIONS,
  DPOP_MODES,
  LISTEN_OPTIONS,
  TLS_OPTIONS,
  FORWARD_MODES,
  FORWARD_OPTIONS,
  GATEWAY_DEFAULTS,
  OWN_PATHS,
  RATE_LIMIT_OPTIONS,
  ROUTE_DEFAULTS,
  ROUTE_OPTIONS,
  SIGNING_ALGORITHMS,
  SIGNING_OPTIONS,
  TOP_LEVEL_OPTIONS,
  VALIDATION_MODES,
  type DpopMode,
  type ForwardConfig,
  type GatewayConfig,
  type RateLimit,
  type RouteConfig,
  type SigningAlgorithm,
  type ValidationMode,
} from './defaults.ts';
import { checkPrefix } from '../lib/path.ts';

/** The configuration is wrong: `problems` lists every mistake found, each with where it is. */
export class ConfigError extends Error {
  readonly problems: string[];
  readonly file?: string;

  constructor(
    problems: string[],
    file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}invalid gateway configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
    this.file = file;
    this.name = 'ConfigError';
  }
}

export interface ParseOptions {
  /** Relative file names (signing.keyFile) are resolved against this directory. */
  baseDir?: string;
  /** Where `client.clientSecretEnv` is looked up. */
  env?: NodeJS.ProcessEnv;
}

type Json = Record<string, unknown>;

/** Collects every mistake, each prefixed with its path in the file, so one run shows them all. */
class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }
}

/**
 * Checks a parsed configuration file (YAML or JSON) and completes it with the defaults. Throws a
 * {@link ConfigError} naming every problem: unknown options (typos) included, so a mistake fails at
 * startup or reload instead of on a request.
 */
export function parseConfig(raw: unknown, options: ParseOptions = {}): GatewayConfig {
  const p = new Problems();
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();
  const top = object(raw, '(top level)', p);
  if (!top) throw new ConfigError(p.list);
  unknownOptions(top, TOP_LEVEL_OPTIONS, '', p);

  const allowInsecureIssuer = bool(top.allowInsecureIssuer, 'allowInsecureIssuer', p, GATEWAY_DEFAULTS.allowInsecureIssuer);
  const issuer = issuerUrl(top.issuer, 'issuer', p, allowInsecureIssuer);
  const publicUrl = top.publicUrl === undefined ? undefined : httpUrl(top.publicUrl, 'publicUrl', p);
  const client = clientOptions(top.client, env, p);
  const routes = routeList(top.routes, p);

  const config: GatewayConfig = {
    listen: listenOptions(top.listen, baseDir, p),
    issuer: issuer ?? '',
    publicUrl,
    allowInsecureIssuer,
    algorithms: stringList(top.algorithms, 'algorithms', p) ?? [...GATEWAY_DEFAULTS.algorithms],
    clockToleranceSeconds: num(top.clockToleranceSeconds, 'clockToleranceSeconds', p, GATEWAY_DEFAULTS.clockToleranceSeconds, 0, 300),
    jwksCacheSeconds: num(top.jwksCacheSeconds, 'jwksCacheSeconds', p, GATEWAY_DEFAULTS.jwksCacheSeconds, 0, 86_400),
    jwksCooldownSeconds: num(top.jwksCooldownSeconds, 'jwksCooldownSeconds', p, GATEWAY_DEFAULTS.jwksCooldownSeconds, 1, 86_400),
    issuerTimeoutSeconds: num(top.issuerTimeoutSeconds, 'issuerTimeoutSeconds', p, GATEWAY_DEFAULTS.issuerTimeoutSeconds, 0.001, 300),
    introspectionCacheSeconds: num(top.introspectionCacheSeconds, 'introspectionCacheSeconds', p, GATEWAY_DEFAULTS.introspectionCacheSeconds, 0, 3600),
    client,
    realm: realm(top.realm, p),
    identityHeaderPrefix: headerPrefix(top.identityHeaderPrefix, p),
    trustedProxies: proxies(top.trustedProxies, p),
    signing: signingOptions(top.signing, baseDir, p),
    rateLimit: rateLimitOptions(top.rateLimit, p),
    upstreamTimeoutSeconds: num(top.upstreamTimeoutSeconds, 'upstreamTimeoutSeconds', p, GATEWAY_DEFAULTS.upstreamTimeoutSeconds, 0.001, 3600),
    headersTimeoutSeconds: num(top.headersTimeoutSeconds, 'headersTimeoutSeconds', p, GATEWAY_DEFAULTS.headersTimeoutSeconds, 1, 3600),
    requestTimeoutSeconds: num(top.requestTimeoutSeconds, 'requestTimeoutSeconds', p, GATEWAY_DEFAULTS.requestTimeoutSeconds, 1, 86_400),
    keepAliveTimeoutSeconds: num(top.keepAliveTimeoutSeconds, 'keepAliveTimeoutSeconds', p, GATEWAY_DEFAULTS.keepAliveTimeoutSeconds, 1, 3600),
    metrics: bool(top.metrics, 'metrics', p, GATEWAY_DEFAULTS.metrics),
    resourceMetadata: bool(top.resourceMetadata, 'resourceMetadata', p, GATEWAY_DEFAULTS.resourceMetadata),
    routes,
  };

  // Requirements across options.
  if (routes.some((r) => r.forward.mode === 'claims') && publicUrl === undefined) {
    p.add('publicUrl', 'required when a route uses claims mode (it is the iss of the JWTs the gateway signs)');
  }
  if (config.resourceMetadata) {
    // RFC 9728 §5.1: the challenges name the metadata by its URL, on the gateway's external origin;
    // RFC 9728 §1.2 and §2: resource identifiers and their metadata are https.
    if (publicUrl === undefined) p.add('publicUrl', 'required when resourceMetadata is true (the challenges name each route\'s metadata by its URL)');
    else if (!isHttpsOrLoopback(publicUrl)) p.add('publicUrl', 'must use https when resourceMetadata is true, unless its host is localhost, 127.0.0.1 or [::1]');
  }
  routes.forEach((route, i) => {
    if (route.validation === 'introspection' && !client) p.add(`routes[${i}].validation`, 'introspection needs the gateway\'s client (client.clientId, client.clientSecret)');
    if (route.forward.mode === 'exchange' && !client) p.add(`routes[${i}].forward.mode`, 'exchange needs the gateway\'s client (client.clientId, client.clientSecret)');
  });
  // Node checks the header timeout only while the whole request is within its own.
  if (config.headersTimeoutSeconds > config.requestTimeoutSeconds) {
    p.add('headersTimeoutSeconds', 'must not be longer than requestTimeoutSeconds');
  }
  if (p.list.length > 0) throw new ConfigError(p.list);
  return config;
}

function listenOptions(value: unknown, baseDir: string, p: Problems): GatewayConfig['listen'] {
  if (value === undefined) return { ...GATEWAY_DEFAULTS.listen };
  const o = object(value, 'listen', p);
  if (!o) return { ...GATEWAY_DEFAULTS.listen };
  unknownOptions(o, LISTEN_OPTIONS, 'listen.', p);
  const host = o.host === undefined ? GATEWAY_DEFAULTS.listen.host : str(o.host, 'listen.host', p) ?? GATEWAY_DEFAULTS.listen.host;
  const port = integer(o.port, 'listen.port', p, GATEWAY_DEFAULTS.listen.port, 0, 65_535);
  if (o.tls === undefined) return { host, port };
  const t = object(o.tls, 'listen.tls', p);
  if (!t) return { host, port };
  unknownOptions(t, TLS_OPTIONS, 'listen.tls.', p);
  const file = (name: 'certFile' | 'keyFile' | 'clientCaFile') => {
    const given = str(t[name], `listen.tls.${name}`, p);
    return given === undefined ? '' : resolve(baseDir, given);
  };
  return {
    host,
    port,
    tls: { certFile: file('certFile'), keyFile: file('keyFile'), clientCaFile: t.clientCaFile === undefined ? undefined : file('clientCaFile') },
  };
}

function clientOptions(value: unknown, env: NodeJS.ProcessEnv, p: Problems): GatewayConfig['client'] {
  if (value === undefined) return undefined;
  const o = object(value, 'client', p);
  if (!o) return undefined;
  unknownOptions(o, CLIENT_OPTIONS, 'client.', p);
  const clientId = str(o.clientId, 'client.clientId', p);
  let clientSecret: string | undefined;
  if ((o.clientSecret === undefined) === (o.clientSecretEnv === undefined)) {
    p.add('client', 'give exactly one of clientSecret and clientSecretEnv');
  } else if (o.clientSecret !== undefined) {
    clientSecret = str(o.clientSecret, 'client.clientSecret', p);
  } else {
    const name = str(o.clientSecretEnv, 'client.clientSecretEnv', p);
    if (name !== undefined) {
      clientSecret = env[name];
      if (!clientSecret) p.add('client.clientSecretEnv', `the environment variable ${name} is not set`);
    }
  }
  return clientId !== undefined && clientSecret ? { clientId, clientSecret } : undefined;
}

function signingOptions(value: unknown, baseDir: string, p: Problems): GatewayConfig['signing'] {
  const defaults = { keyFile: undefined, ...GATEWAY_DEFAULTS.signing };
  if (value === undefined) return defaults;
  const o = object(value, 'signing', p);
  if (!o) return defaults;
  unknownOptions(o, SIGNING_OPTIONS, 'signing.', p);
  const keyFile = o.keyFile === undefined ? undefined : str(o.keyFile, 'signing.keyFile', p);
  let algorithm: SigningAlgorithm = defaults.algorithm;
  if (o.algorithm !== undefined) {
    if ((SIGNING_ALGORITHMS as readonly unknown[]).includes(o.algorithm)) algorithm = o.algorithm as SigningAlgorithm;
    else p.add('signing.algorithm', `must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  return {
    keyFile: keyFile === undefined ? undefined : resolve(baseDir, keyFile),
    algorithm,
    tokenTtlSeconds: integer(o.tokenTtlSeconds, 'signing.tokenTtlSeconds', p, defaults.tokenTtlSeconds, 1, 3600),
  };
}

function rateLimitOptions(value: unknown, p: Problems): GatewayConfig['rateLimit'] {
  if (value === undefined) return undefined;
  const o = object(value, 'rateLimit', p);
  if (!o) return undefined;
  unknownOptions(o, RATE_LIMIT_OPTIONS, 'rateLimit.', p);
  const base = bucket(o, 'rateLimit', p);
  // No prototype: a client_id such as "constructor" must not find an inherited member.
  const clients: Record<string, RateLimit> = Object.create(null);
  if (o.clients !== undefined) {
    const c = object(o.clients, 'rateLimit.clients', p);
    for (const [clientId, limit] of Object.entries(c ?? {})) {
      const path = `rateLimit.clients.${clientId}`;
      const lo = object(limit, path, p);
      if (!lo) continue;
      unknownOptions(lo, ['requestsPerSecond', 'burst'], `${path}.`, p);
      clients[clientId] = bucket(lo, path, p);
    }
  }
  return { ...base, clients };
}

function bucket(o: Json, path: string, p: Problems): RateLimit {
  if (o.requestsPerSecond === undefined) p.add(`${path}.requestsPerSecond`, 'is required');
  if (o.burst === undefined) p.add(`${path}.burst`, 'is required');
  return {
    requestsPerSecond: num(o.requestsPerSecond, `${path}.requestsPerSecond`, p, 1, 0.001, 1_000_000),
    burst: integer(o.burst, `${path}.burst`, p, 1, 1, 1_000_000),
  };
}

function routeList(value: unknown, p: Problems): RouteConfig[] {
  if (!Array.isArray(value) || value.length === 0) {
    p.add('routes', 'must be a non-empty list of routes');
    return [];
  }
  const routes: RouteConfig[] = [];
  const prefixes = new Map<string, number>();
  const names = new Map<string, number>();
  value.forEach((entry, i) => {
    const r = route(entry, `routes[${i}]`, p);
    if (!r) return;
    if (prefixes.has(r.prefix)) p.add(`routes[${i}].prefix`, `"${r.prefix}" is also the prefix of routes[${prefixes.get(r.prefix)}]`);
    if (names.has(r.name)) p.add(`routes[${i}].name`, `"${r.name}" is also the name of routes[${names.get(r.name)}]`);
    prefixes.set(r.prefix, i);
    names.set(r.name, i);
    routes.push(r);
  });
  return routes;
}

function route(value: unknown, path: string, p: Problems): RouteConfig | undefined {
  const o = object(value, path, p);
  if (!o) return undefined;
  unknownOptions(o, ROUTE_OPTIONS, `${path}.`, p);
  const before = p.list.length;
  const prefixValue = str(o.prefix, `${path}.prefix`, p);
  let prefix = '/';
  if (prefixValue !== undefined) {
    const problem = checkPrefix(prefixValue);
    if (problem) p.add(`${path}.prefix`, problem);
    else prefix = prefixValue.length > 1 ? prefixValue.replace(/\/+$/, '') : prefixValue;
    if (Object.values(OWN_PATHS).some((own) => prefix === own || prefix.startsWith(`${own}/`))) p.add(`${path}.prefix`, `${prefix} is served by the gateway itself`);
  }
  const upstream = httpUrl(o.upstream, `${path}.upstream`, p) ?? '';
  const audience = str(o.audience, `${path}.audience`, p) ?? '';
  let validation: ValidationMode = ROUTE_DEFAULTS.validation;
  if (o.validation !== undefined) {
    if ((VALIDATION_MODES as readonly unknown[]).includes(o.validation)) validation = o.validation as ValidationMode;
    else p.add(`${path}.validation`, `must be one of ${VALIDATION_MODES.join(', ')}`);
  }
  const name = o.name === undefined ? prefix : str(o.name, `${path}.name`, p) ?? prefix;
  let dpop: DpopMode = ROUTE_DEFAULTS.dpop;
  if (o.dpop !== undefined) {
    if ((DPOP_MODES as readonly unknown[]).includes(o.dpop)) dpop = o.dpop as DpopMode;
    else p.add(`${path}.dpop`, `must be one of ${DPOP_MODES.join(', ')}`);
  }
  const result: RouteConfig = {
    name,
    prefix,
    upstream,
    audience,
    validation,
    methods: methods(o.methods, `${path}.methods`, p),
    stripPrefix: bool(o.stripPrefix, `${path}.stripPrefix`, p, ROUTE_DEFAULTS.stripPrefix),
    preserveHost: bool(o.preserveHost, `${path}.preserveHost`, p, ROUTE_DEFAULTS.preserveHost),
    dpop,
    forward: forward(o.forward, `${path}.forward`, upstream, p),
  };
  if (result.forward.mode === 'passthrough' && result.forward.dpopProof && dpop === 'disabled') {
    p.add(`${path}.forward.dpopProof`, 'this route takes no DPoP (dpop: disabled): there is no proof to forward');
  }
  return p.list.length === before ? result : undefined;
}

/** RFC 9110 §5.6.2 token: a method name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function methods(value: unknown, path: string, p: Problems): Record<string, string[]> {
  const o = object(value, path, p);
  if (!o) return {};
  const result: Record<string, string[]> = Object.create(null);
  if (Object.keys(o).length === 0) p.add(path, 'allow at least one method');
  for (const [method, scopes] of Object.entries(o)) {
    const name = method.toUpperCase();
    if (!TOKEN.test(method)) p.add(`${path}.${method}`, 'is not a method name');
    if (name === 'CONNECT' || name === 'TRACE') p.add(`${path}.${method}`, `${name} is never forwarded`);
    if (Object.hasOwn(result, name)) p.add(`${path}.${method}`, `${name} is listed twice`);
    result[name] = scopeList(scopes, `${path}.${method}`, p) ?? [];
  }
  return result;
}

function forward(value: unknown, path: string, upstream: string, p: Problems): ForwardConfig {
  if (value === undefined) return { mode: ROUTE_DEFAULTS.forward.mode, audience: defaultAudience(upstream) };
  const o = object(value, path, p);
  if (!o) return { mode: 'passthrough', dpopProof: false };
  unknownOptions(o, FORWARD_OPTIONS, `${path}.`, p);
  const mode = o.mode ?? ROUTE_DEFAULTS.forward.mode;
  if (!(FORWARD_MODES as readonly unknown[]).includes(mode)) {
    p.add(`${path}.mode`, `must be one of ${FORWARD_MODES.join(', ')}`);
    return { mode: 'passthrough', dpopProof: false };
  }
  if (mode === 'passthrough') {
    if (o.audience !== undefined || o.scopes !== undefined) p.add(path, 'passthrough takes no audience or scopes');
    return { mode, dpopProof: bool(o.dpopProof, `${path}.dpopProof`, p, ROUTE_DEFAULTS.forward.dpopProof) };
  }
  // The caller's proof is for the caller's token: only passthrough forwards that token.
  if (o.dpopProof !== undefined) p.add(`${path}.dpopProof`, 'only passthrough mode forwards the caller\'s token and its DPoP proof');
  if (mode === 'claims') {
    if (o.scopes !== undefined) p.add(`${path}.scopes`, 'only exchange mode takes scopes');
    return { mode, audience: o.audience === undefined ? defaultAudience(upstream) : str(o.audience, `${path}.audience`, p) ?? '' };
  }
  if (o.audience === undefined) p.add(`${path}.audience`, 'exchange mode needs the upstream\'s resource identifier at the issuer');
  return {
    mode: 'exchange',
    audience: o.audience === undefined ? '' : str(o.audience, `${path}.audience`, p) ?? '',
    scopes: o.scopes === undefined ? undefined : scopeList(o.scopes, `${path}.scopes`, p),
  };
}

/** The audience of the gateway's JWT when none is configured: the upstream's origin. */
function defaultAudience(upstream: string): string {
  try {
    return new URL(upstream).origin;
  } catch {
    return '';
  }
}

function scopeList(value: unknown, path: string, p: Problems): string[] | undefined {
  const list = typeof value === 'string' ? value.split(' ').filter((s) => s !== '') : value;
  if (!Array.isArray(list)) {
    p.add(path, 'must be a list of scopes');
    return undefined;
  }
  for (const scope of list) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) p.add(path, `"${String(scope)}" is not a scope (RFC 6749 §3.3)`);
  }
  return [...new Set(list.map(String))];
}

function isHttpsOrLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(hostname);
}

function issuerUrl(value: unknown, path: string, p: Problems, allowInsecure: boolean): string | undefined {
  const url = httpUrl(value, path, p);
  if (url === undefined) return undefined;
  const { protocol, hostname } = new URL(url);
  if (protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(hostname) && !allowInsecure) {
    p.add(path, 'must use https unless its host is localhost, 127.0.0.1 or [::1] (allowInsecureIssuer: true overrides; never in production)');
  }
  // Compared exactly with the tokens' iss: kept as written, not normalised by URL.
  return value as string;
}

function httpUrl(value: unknown, path: string, p: Problems): string | undefined {
  const s = str(value, path, p);
  if (s === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    p.add(path, `"${s}" is not a URL`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') p.add(path, 'must be an http or https URL');
  else if (url.search || url.hash || s.includes('?') || s.includes('#')) p.add(path, 'must not have a query or fragment');
  else if (url.username || url.password) p.add(path, 'must not contain credentials');
  else return s;
  return undefined;
}

function realm(value: unknown, p: Problems): string {
  if (value === undefined) return GATEWAY_DEFAULTS.realm;
  const s = str(value, 'realm', p);
  // RFC 7235 §2.2: a quoted-string; only what needs no escaping.
  if (s !== undefined && !/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/.test(s)) p.add('realm', 'must be printable ASCII without " or \\');
  return s ?? GATEWAY_DEFAULTS.realm;
}

function headerPrefix(value: unknown, p: Problems): string {
  if (value === undefined) return GATEWAY_DEFAULTS.identityHeaderPrefix;
  const s = str(value, 'identityHeaderPrefix', p);
  if (s === undefined) return GATEWAY_DEFAULTS.identityHeaderPrefix;
  if (!/^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*-$/.test(s)) {
    p.add('identityHeaderPrefix', 'must be letters, digits and dashes ending in a dash, such as X-Auth-');
  }
  const lower = s.toLowerCase();
  if (['x-forwarded-', 'content-', 'sec-', 'proxy-', 'accept-'].some((taken) => taken.startsWith(lower))) {
    p.add('identityHeaderPrefix', 'would remove standard headers');
  }
  return s;
}

function proxies(value: unknown, p: Problems): string[] {
  if (value === undefined) return [];
  const list = stringList(value, 'trustedProxies', p) ?? [];
  for (const entry of list) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const max = family === 4 ? 32 : 128;
    const ok =
      family !== 0 && extra === undefined && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max));
    if (!ok) p.add('trustedProxies', `"${entry}" is not an IP address or CIDR range`);
  }
  return list;
}

// Small typed readers: each reports what it expected, where.

function object(value: unknown, path: string, p: Problems): Json | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  p.add(path, 'must be a mapping (an object)');
  return undefined;
}

function unknownOptions(o: Json, known: readonly string[], prefix: string, p: Problems): void {
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) p.add(`${prefix}${key}`, `unknown option (expected one of ${known.join(', ')})`);
  }
}

function str(value: unknown, path: string, p: Problems): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  p.add(path, value === undefined ? 'is required' : 'must be a non-empty string');
  return undefined;
}

function stringList(value: unknown, path: string, p: Problems): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    p.add(path, 'must be a list of non-empty strings');
    return undefined;
  }
  return [...(value as string[])];
}

function bool(value: unknown, path: string, p: Problems, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  p.add(path, 'must be true or false');
  return fallback;
}

function num(value: unknown, path: string, p: Problems, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max) return value;
  p.add(path, `must be a number between ${min} and ${max}`);
  return fallback;
}

function integer(value: unknown, path: string, p: Problems, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  p.add(path, `must be an integer between ${min} and ${max}`);
  return fallback;
}
