import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { checkCaFile } from '../lib/outbound-fetch.ts';
import { validateObservabilitySettings } from '../observability/settings.ts';
import {
  CLIENT_METADATA_POLICIES,
  CONFIG_FILE_ENV,
  OPTIONS,
  REGISTRATION_POLICIES,
  SIGNUP_POLICIES,
  type ClientMetadataPolicy,
  type OptionSpec,
  type RegistrationPolicy,
  type Settings,
} from './defaults.ts';

type Source = Record<string, unknown>;

/**
 * Settings from, in rising precedence: defaults, the JSON config file (`--config` or
 * `LATCHKEY_CONFIG`), environment variables, and explicit overrides (tests, embedding code).
 */
export function loadSettings(
  options: { env?: NodeJS.ProcessEnv; configFile?: string; overrides?: Partial<Settings> } = {},
): Settings {
  const env = options.env ?? process.env;
  const configPath = options.configFile ?? env[CONFIG_FILE_ENV];
  const file = configPath ? readConfigFile(configPath) : {};
  const settings = {} as Record<keyof Settings, unknown>;
  for (const spec of OPTIONS) {
    let value: unknown = spec.default;
    if (spec.key in file) {
      value = coerce(spec, file[spec.key], `${configPath}: ${spec.key}`, true);
      // A relative data directory in a config file is relative to that file, not to where one runs.
      if (spec.key === 'dataDir' && configPath) value = resolve(dirname(resolve(configPath)), value as string);
    }
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') value = coerce(spec, fromEnv, spec.env);
    settings[spec.key] = value;
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) settings[key as keyof Settings] = value;
  }
  // No issuer named anywhere: localhost on the port the server listens on (a second server on
  // PORT=9001 must not announce the endpoints of the first on 9000).
  const issuerNamed = 'issuer' in file || (env.LATCHKEY_ISSUER ?? '') !== '' || options.overrides?.issuer !== undefined;
  if (!issuerNamed && (settings.port as number) <= 65535) settings.issuer = defaultIssuer(settings.port as number);
  const result = settings as Settings;
  validateSettings(result);
  return result;
}

function readConfigFile(path: string): Source {
  let text: string;
  try {
    text = readFileSync(resolve(path), 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // The parser's message quotes the text, which may hold a secret: report only where it failed.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new ConfigError(`config file ${path} is not valid JSON${position ? ` (at character ${position})` : ''}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  const known = new Set(OPTIONS.map((o) => o.key as string));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw new ConfigError(`config file ${path}: unknown option "${key}"`);
  }
  return parsed as Source;
}

/**
 * The issuer when none is set: this machine, on the port the server listens on. (Any other host must
 * be named: it is what clients are sent to, and over http only localhost is allowed.)
 */
export function defaultIssuer(port: number): string {
  return `http://localhost:${port}`;
}

/**
 * A value as its option's type. From the environment everything is text; in a JSON config file a
 * number is a JSON number and a boolean a JSON boolean (`"port": "9100"` is a mistake, reported).
 */
function coerce(spec: OptionSpec, raw: unknown, where: string, json = false): unknown {
  switch (spec.type) {
    case 'integer': {
      if (json && typeof raw !== 'number') throw new ConfigError(`${where} must be a JSON number (without quotes)`);
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${where} must be a non-negative integer`);
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (json) throw new ConfigError(`${where} must be true or false (without quotes)`);
      const s = String(raw).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      throw new ConfigError(`${where} must be true or false`);
    }
    case 'string':
    case 'optional-string':
      if (typeof raw !== 'string') throw new ConfigError(`${where} must be a string`);
      return raw;
  }
}

/** The longest interval a Node timer can take, in whole seconds. */
const MAX_INTERVAL_SECONDS = 2_147_483;

/** pino's levels, most to least severe, and `silent`. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Checks that fail at boot rather than on the first request. */
export function validateSettings(settings: Settings): void {
  if (!LOG_LEVELS.includes(settings.logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (not "${settings.logLevel}")`);
  }
  let url: URL;
  try {
    url = new URL(settings.issuer);
  } catch {
    throw new ConfigError(`LATCHKEY_ISSUER "${settings.issuer}" is not a URL`);
  }
  // RFC 8414 §2: the issuer is a URL using the https scheme with no query or fragment components.
  if (url.search || url.hash || settings.issuer.includes('?') || settings.issuer.includes('#')) {
    throw new ConfigError('LATCHKEY_ISSUER must not have a query or fragment');
  }
  if (url.username || url.password) throw new ConfigError('LATCHKEY_ISSUER must not contain credentials');
  if (settings.issuer.endsWith('/')) {
    throw new ConfigError(
      `LATCHKEY_ISSUER must not end with "/" (it is compared exactly): use "${settings.issuer.replace(/\/+$/, '')}"`,
    );
  }
  if (url.protocol !== 'https:') {
    if (url.protocol !== 'http:') throw new ConfigError('LATCHKEY_ISSUER must be an https URL');
    if (!LOOPBACK_HOSTS.has(url.hostname) && !settings.allowInsecureIssuer) {
      throw new ConfigError(
        'LATCHKEY_ISSUER must use https unless its host is localhost, 127.0.0.1 or [::1]; ' +
          'set LATCHKEY_ALLOW_INSECURE_ISSUER=true to override (never in production)',
      );
    }
  }
  if (settings.port > 65535) throw new ConfigError('PORT must be at most 65535');
  if (settings.accessTokenTtlSeconds < 1 || settings.accessTokenTtlSeconds > 24 * 3600) {
    throw new ConfigError('LATCHKEY_ACCESS_TOKEN_TTL_SECONDS must be between 1 and 86400');
  }
  if (settings.refreshTokenTtlSeconds < 60 || settings.refreshTokenTtlSeconds > 366 * 24 * 3600) {
    throw new ConfigError('LATCHKEY_REFRESH_TOKEN_TTL_SECONDS must be between 60 and 31622400');
  }
  if (settings.refreshGraceSeconds > 60) throw new ConfigError('LATCHKEY_REFRESH_GRACE_SECONDS must be at most 60');
  if (settings.dpopProofMaxAgeSeconds < 10 || settings.dpopProofMaxAgeSeconds > 3600) {
    throw new ConfigError('LATCHKEY_DPOP_PROOF_MAX_AGE_SECONDS must be between 10 and 3600');
  }
  // RFC 9126 §2.2: the lifetime "will typically be relatively short (e.g., between 5 and 600 seconds)".
  if (settings.parTtlSeconds < 5 || settings.parTtlSeconds > 600) throw new ConfigError('LATCHKEY_PAR_TTL_SECONDS must be between 5 and 600');
  if (settings.idTokenTtlSeconds < 60 || settings.idTokenTtlSeconds > 24 * 3600) {
    throw new ConfigError('LATCHKEY_ID_TOKEN_TTL_SECONDS must be between 60 and 86400');
  }
  // setInterval and friends take at most 2^31-1 ms; longer would fire every millisecond.
  for (const [name, value] of [
    ['LATCHKEY_JANITOR_INTERVAL_SECONDS', settings.janitorIntervalSeconds],
    ['LATCHKEY_KEY_CACHE_SECONDS', settings.keyCacheSeconds],
    ['LATCHKEY_KEY_PREPUBLISH_SECONDS', settings.keyPrepublishSeconds],
  ] as const) {
    if (value > MAX_INTERVAL_SECONDS) throw new ConfigError(`${name} must be at most ${MAX_INTERVAL_SECONDS}`);
  }
  // A /0 range believes every address's forwarding headers; Fastify's proxy-addr refuses it at start.
  if (settings.trustedProxies !== undefined && /\/0*0\s*(,|$)/.test(settings.trustedProxies)) {
    throw new ConfigError('LATCHKEY_TRUSTED_PROXIES has a /0 range, which trusts every address: name your proxies, or set LATCHKEY_TRUST_PROXY=true if every client really is a proxy');
  }
  if (settings.trustedProxies !== undefined && trustedProxies(settings.trustedProxies) === undefined) {
    throw new ConfigError(
      'LATCHKEY_TRUSTED_PROXIES must be a number of hops, or comma-separated IP addresses, CIDR ranges, loopback, linklocal or uniquelocal',
    );
  }
  if (settings.bodyLimitBytes < 1024) throw new ConfigError('LATCHKEY_BODY_LIMIT_BYTES must be at least 1024');
  for (const [name, value] of [
    ['LATCHKEY_HEADERS_TIMEOUT_SECONDS', settings.headersTimeoutSeconds],
    ['LATCHKEY_BODY_TIMEOUT_SECONDS', settings.bodyTimeoutSeconds],
    ['LATCHKEY_REQUEST_TIMEOUT_SECONDS', settings.requestTimeoutSeconds],
    ['LATCHKEY_KEEP_ALIVE_TIMEOUT_SECONDS', settings.keepAliveTimeoutSeconds],
  ] as const) {
    if (value < 1 || value > 3600) throw new ConfigError(`${name} must be between 1 and 3600`);
  }
  // Node checks the header timeout only while the whole request is still within its own.
  if (settings.headersTimeoutSeconds > settings.requestTimeoutSeconds) {
    throw new ConfigError('LATCHKEY_HEADERS_TIMEOUT_SECONDS must not be longer than LATCHKEY_REQUEST_TIMEOUT_SECONDS');
  }
  if (settings.databaseTimeoutSeconds < 1 || settings.databaseTimeoutSeconds > 60) {
    throw new ConfigError('LATCHKEY_DATABASE_TIMEOUT_SECONDS must be between 1 and 60');
  }
  if (settings.keyRotationDays > 3650) throw new ConfigError('LATCHKEY_KEY_ROTATION_DAYS must be at most 3650 (0: never rotate on a schedule)');
  // A key must sign for a while before its successor is due: the successor is published first.
  if (settings.keyRotationDays > 0 && settings.keyRotationDays * 86400 <= settings.keyPrepublishSeconds) {
    throw new ConfigError('LATCHKEY_KEY_ROTATION_DAYS must be longer than LATCHKEY_KEY_PREPUBLISH_SECONDS (or 0: never rotate on a schedule)');
  }
  if (settings.databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(settings.databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  if (!REGISTRATION_POLICIES.includes(settings.registration as RegistrationPolicy)) {
    throw new ConfigError(`LATCHKEY_REGISTRATION must be one of ${REGISTRATION_POLICIES.join(', ')}`);
  }
  if (!SIGNUP_POLICIES.includes(settings.signup)) throw new ConfigError(`LATCHKEY_SIGNUP must be one of ${SIGNUP_POLICIES.join(', ')}`);
  if (settings.signup === 'open' && settings.smtpUrl === undefined) {
    throw new ConfigError('LATCHKEY_SIGNUP=open needs mail (LATCHKEY_SMTP_URL): an address is confirmed before the account is used');
  }
  if (settings.themeColor !== undefined && !/^#[0-9a-fA-F]{6}$/.test(settings.themeColor)) throw new ConfigError('LATCHKEY_THEME_COLOR must be a colour like #0a7d5a');
  if (settings.productName.trim() === '' || settings.productName.length > 60) throw new ConfigError('LATCHKEY_PRODUCT_NAME must be 1-60 characters');
  if (settings.signupRateLimitPerHour < 1) throw new ConfigError('LATCHKEY_SIGNUP_RATE_LIMIT_PER_HOUR must be at least 1');
  if (settings.registrationRateLimitPerHour < 1) throw new ConfigError('LATCHKEY_REGISTRATION_RATE_LIMIT_PER_HOUR must be at least 1');
  validateClientMetadataSettings(settings);
  if (settings.outboundCaFile !== undefined) {
    const reason = checkCaFile(settings.outboundCaFile);
    if (reason) throw new ConfigError(`LATCHKEY_OUTBOUND_CA_FILE ${reason}`);
  }
  validateMtlsSettings(settings);
  validateObservabilitySettings(settings);
}

/** RFC 8705 settings: a listener needs its certificate and key; the URL of the aliases must be https. */
function validateMtlsSettings(settings: Settings): void {
  if (settings.mtlsPort > 65535) throw new ConfigError('LATCHKEY_MTLS_PORT must be at most 65535');
  if (settings.mtlsPort > 0 && (settings.mtlsCertFile === undefined || settings.mtlsKeyFile === undefined)) {
    throw new ConfigError('LATCHKEY_MTLS_PORT needs LATCHKEY_MTLS_CERT_FILE and LATCHKEY_MTLS_KEY_FILE (the listener serves https)');
  }
  for (const [name, file] of [['LATCHKEY_MTLS_CERT_FILE', settings.mtlsCertFile], ['LATCHKEY_MTLS_CLIENT_CA_FILE', settings.mtlsClientCaFile]] as const) {
    if (file === undefined) continue;
    const reason = checkCaFile(file);
    if (reason) throw new ConfigError(`${name} ${reason}`);
  }
  if (settings.mtlsUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(settings.mtlsUrl);
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== 'https:' || url.search !== '' || url.hash !== '' || settings.mtlsUrl.endsWith('/')) {
      throw new ConfigError('LATCHKEY_MTLS_URL must be an https URL without a trailing /, query or fragment');
    }
  }
}

/** Longest time a client metadata document may be used without being fetched again. */
const MAX_CLIENT_METADATA_CACHE_SECONDS = 7 * 24 * 3600; // a week

function validateClientMetadataSettings(settings: Settings): void {
  if (!CLIENT_METADATA_POLICIES.includes(settings.clientMetadataDocuments as ClientMetadataPolicy)) {
    throw new ConfigError(`LATCHKEY_CLIENT_METADATA_DOCUMENTS must be one of ${CLIENT_METADATA_POLICIES.join(', ')}`);
  }
  const hosts = settings.clientMetadataHosts === undefined ? [] : clientMetadataHostList(settings.clientMetadataHosts);
  if (hosts === undefined) {
    throw new ConfigError('LATCHKEY_CLIENT_METADATA_HOSTS must be comma-separated host names (client.example.com), without scheme, port or path');
  }
  if (settings.clientMetadataDocuments === 'allowlist' && hosts.length === 0) {
    throw new ConfigError('LATCHKEY_CLIENT_METADATA_DOCUMENTS=allowlist needs LATCHKEY_CLIENT_METADATA_HOSTS');
  }
  if (settings.clientMetadataCacheMaxSeconds > MAX_CLIENT_METADATA_CACHE_SECONDS) {
    throw new ConfigError(`LATCHKEY_CLIENT_METADATA_CACHE_MAX_SECONDS must be at most ${MAX_CLIENT_METADATA_CACHE_SECONDS}`);
  }
  if (settings.clientMetadataCacheMinSeconds > settings.clientMetadataCacheMaxSeconds) {
    throw new ConfigError('LATCHKEY_CLIENT_METADATA_CACHE_MIN_SECONDS must not be longer than LATCHKEY_CLIENT_METADATA_CACHE_MAX_SECONDS');
  }
}

/**
 * The host names of LATCHKEY_CLIENT_METADATA_HOSTS, lower-cased (as URL.hostname writes them); IPv6
 * literals in brackets. Undefined when an entry is not a bare host name.
 */
export function clientMetadataHostList(text: string): string[] | undefined {
  const entries = text.split(',').map((e) => e.trim().toLowerCase()).filter((e) => e !== '');
  for (const entry of entries) {
    const bracketed = entry.startsWith('[') && entry.endsWith(']') && isIP(entry.slice(1, -1)) === 6;
    if (!bracketed && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(entry)) return undefined;
  }
  return entries;
}

/** Whether the issuer is served over plain http (the startup warns about it). */
export function issuerIsInsecure(settings: Settings): boolean {
  return new URL(settings.issuer).protocol === 'http:';
}

/**
 * The `trustProxy` value for Fastify: a hop count, or the list of proxy addresses and ranges whose
 * forwarding headers are believed; undefined when the text is neither.
 */
export function trustedProxies(text: string): number | string[] | undefined {
  const value = text.trim();
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const entries = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 0) return undefined;
  for (const entry of entries) {
    if (entry === 'loopback' || entry === 'linklocal' || entry === 'uniquelocal') continue;
    const [address, prefix, ...rest] = entry.split('/');
    if (rest.length > 0 || !address || isIP(address) === 0) return undefined;
    if (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (isIP(address) === 4 ? 32 : 128))) return undefined;
  }
  return entries;
}
