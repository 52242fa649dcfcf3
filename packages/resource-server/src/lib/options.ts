import { ConfigurationError } from '../errors.ts';
import {
  INTROSPECTOR_DEFAULTS,
  ISSUER_DEFAULTS,
  VALIDATOR_DEFAULTS,
  type IntrospectorOptions,
  type IssuerOptions,
  type ValidatorOptions,
} from '../defaults.ts';

/** Options checked and completed with their defaults: a mistake fails at creation, not on a request. */
export interface ResolvedIssuerOptions {
  issuer: string;
  /** Whether the issuer's endpoints may be plain http (loopback issuer, or allowInsecureIssuer). */
  httpAllowed: boolean;
  httpTimeoutSeconds: number;
  maxTokenLength: number;
  fetch: typeof globalThis.fetch;
}

export interface ResolvedValidatorOptions extends ResolvedIssuerOptions {
  audience: string;
  /** Lower case, without an `application/` prefix. */
  tokenType: string;
  jwksUri: string | undefined;
  algorithms: string[];
  clockToleranceSeconds: number;
  requiredClaims: string[];
  jwksCacheSeconds: number;
  jwksCooldownSeconds: number;
  onJwksFetch: (result: 'success' | 'failure') => void;
}

export interface ResolvedIntrospectorOptions extends ResolvedIssuerOptions {
  clientId: string;
  clientSecret: string;
  audience: string | undefined;
  cacheSeconds: number;
  onCacheLookup: (hit: boolean) => void;
}

/** Asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037) jose verifies; HMAC and `none` are never accepted. */
const ASYMMETRIC_ALGORITHMS = new Set([
  'ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519',
]);

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `none` or an HMAC algorithm: refused whatever the configuration says (RFC 8725 §3.1, §3.2). */
export function isForbiddenAlgorithm(alg: string): boolean {
  return alg.toLowerCase() === 'none' || alg.toUpperCase().startsWith('HS');
}

function resolveIssuer(options: IssuerOptions): ResolvedIssuerOptions {
  const { issuer } = options;
  if (typeof issuer !== 'string' || issuer === '') throw new ConfigurationError('issuer is required');
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigurationError(`issuer "${issuer}" is not a URL`);
  }
  // RFC 8414 §2: a URL using the https scheme with no query or fragment components.
  if (url.search || url.hash || issuer.includes('?') || issuer.includes('#')) {
    throw new ConfigurationError('issuer must not have a query or fragment');
  }
  const allowInsecureIssuer = options.allowInsecureIssuer ?? ISSUER_DEFAULTS.allowInsecureIssuer;
  if (url.protocol !== 'https:') {
    if (url.protocol !== 'http:') throw new ConfigurationError('issuer must be an https URL');
    if (!LOOPBACK_HOSTS.has(url.hostname) && !allowInsecureIssuer) {
      throw new ConfigurationError(
        'issuer must use https unless its host is localhost, 127.0.0.1 or [::1]; set allowInsecureIssuer: true to override (never in production)',
      );
    }
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new ConfigurationError('fetch must be a function');
  return {
    issuer,
    httpAllowed: url.protocol === 'http:',
    httpTimeoutSeconds: seconds('httpTimeoutSeconds', options.httpTimeoutSeconds ?? ISSUER_DEFAULTS.httpTimeoutSeconds, { min: 0.001, max: 300 }),
    maxTokenLength: integer('maxTokenLength', options.maxTokenLength ?? ISSUER_DEFAULTS.maxTokenLength, { min: 1, max: 1024 * 1024 }),
    fetch: fetchImpl,
  };
}

export function resolveValidatorOptions(options: ValidatorOptions): ResolvedValidatorOptions {
  if (typeof options?.audience !== 'string' || options.audience === '') throw new ConfigurationError('audience is required');
  const algorithms = options.algorithms ?? [...VALIDATOR_DEFAULTS.algorithms];
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw new ConfigurationError('algorithms must list at least one algorithm');
  for (const alg of algorithms) {
    // RFC 8725 §3.1: never `none`, and never an HMAC algorithm for tokens verified with a public key.
    if (typeof alg === 'string' && isForbiddenAlgorithm(alg)) {
      throw new ConfigurationError(`algorithm "${alg}" is never accepted: use an asymmetric algorithm such as ES256`);
    }
    if (typeof alg !== 'string' || !ASYMMETRIC_ALGORITHMS.has(alg)) {
      throw new ConfigurationError(`algorithm "${String(alg)}" is not supported (one of ${[...ASYMMETRIC_ALGORITHMS].join(', ')})`);
    }
  }
  const requiredClaims = options.requiredClaims ?? [...VALIDATOR_DEFAULTS.requiredClaims];
  if (!Array.isArray(requiredClaims) || requiredClaims.some((c) => typeof c !== 'string' || c === '')) {
    throw new ConfigurationError('requiredClaims must be an array of claim names');
  }
  const tokenType = (options.tokenType ?? VALIDATOR_DEFAULTS.tokenType).toLowerCase().replace(/^application\//, '');
  if (!/^[a-z0-9][a-z0-9.+-]*$/.test(tokenType)) throw new ConfigurationError('tokenType must be a media type such as at+jwt');
  const issuer = resolveIssuer(options);
  let jwksUri: string | undefined;
  if (options.jwksUri !== undefined) {
    let url: URL;
    try {
      url = new URL(options.jwksUri);
    } catch {
      throw new ConfigurationError('jwksUri must be an absolute URL');
    }
    // https, as for the issuer; plain http only on loopback or where the issuer itself may be http.
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (issuer.httpAllowed || loopback))) {
      throw new ConfigurationError('jwksUri must be https (plain http only on localhost, 127.0.0.1 and [::1])');
    }
    jwksUri = url.toString();
  }
  return {
    ...issuer,
    audience: options.audience,
    tokenType,
    jwksUri,
    algorithms: [...new Set(algorithms)],
    clockToleranceSeconds: seconds('clockToleranceSeconds', options.clockToleranceSeconds ?? VALIDATOR_DEFAULTS.clockToleranceSeconds, { min: 0, max: 300 }),
    requiredClaims: [...requiredClaims],
    jwksCacheSeconds: seconds('jwksCacheSeconds', options.jwksCacheSeconds ?? VALIDATOR_DEFAULTS.jwksCacheSeconds, { min: 0, max: 24 * 3600 }),
    // At least a second: the cooldown is what stops unknown kids from hammering the issuer.
    jwksCooldownSeconds: seconds('jwksCooldownSeconds', options.jwksCooldownSeconds ?? VALIDATOR_DEFAULTS.jwksCooldownSeconds, { min: 1, max: 24 * 3600 }),
    onJwksFetch: hook('onJwksFetch', options.onJwksFetch),
  };
}

export function resolveIntrospectorOptions(options: IntrospectorOptions): ResolvedIntrospectorOptions {
  if (typeof options?.clientId !== 'string' || options.clientId === '') throw new ConfigurationError('clientId is required');
  if (typeof options.clientSecret !== 'string' || options.clientSecret === '') throw new ConfigurationError('clientSecret is required');
  if (options.audience !== undefined && (typeof options.audience !== 'string' || options.audience === '')) {
    throw new ConfigurationError('audience must be a non-empty string when set');
  }
  return {
    ...resolveIssuer(options),
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    audience: options.audience,
    cacheSeconds: seconds('cacheSeconds', options.cacheSeconds ?? INTROSPECTOR_DEFAULTS.cacheSeconds, { min: 0, max: 3600 }),
    onCacheLookup: hook('onCacheLookup', options.onCacheLookup),
  };
}

/** An observer: a function, or none; whatever it throws never disturbs a validation. */
function hook<A>(name: string, value: ((arg: A) => void) | undefined): (arg: A) => void {
  if (value === undefined) return () => {};
  if (typeof value !== 'function') throw new ConfigurationError(`${name} must be a function`);
  return (arg) => {
    try {
      value(arg);
    } catch {
      // An observer's failure is its own.
    }
  };
}

function seconds(name: string, value: unknown, range: { min: number; max: number }): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < range.min || value > range.max) {
    throw new ConfigurationError(`${name} must be a number of seconds between ${range.min} and ${range.max}`);
  }
  return value;
}

function integer(name: string, value: unknown, range: { min: number; max: number }): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigurationError(`${name} must be an integer between ${range.min} and ${range.max}`);
  }
  return value;
}
