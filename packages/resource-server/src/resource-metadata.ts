import { PROTECTED_RESOURCE_METADATA_DEFAULTS, type ProtectedResourceMetadataOptions } from './defaults.ts';
import { ConfigurationError } from './errors.ts';
import { checkScopes } from './lib/scopes.ts';

/** RFC 9728 §3: the well-known URI string of protected resource metadata. */
export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** RFC 9728 §2: the metadata document, as served. Only the members that were configured are present. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers?: string[];
  jwks_uri?: string;
  scopes_supported?: string[];
  bearer_methods_supported: string[];
  resource_name?: string;
  resource_documentation?: string;
  resource_policy_uri?: string;
  resource_tos_uri?: string;
}

/** RFC 9728 §2: the values RFC 6750 defines for bearer_methods_supported (§2.1, §2.2, §2.3). */
const BEARER_METHODS = ['header', 'body', 'query'];

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The protected resource metadata document (RFC 9728 §2) of one resource, its options checked now: a
 * mistake throws a ConfigurationError at startup, not on a request.
 *
 * @example
 * const metadata = protectedResourceMetadata({
 *   resource: 'https://api.example.com',
 *   authorizationServers: ['https://auth.example.com'],
 *   scopesSupported: ['orders:read', 'orders:write'],
 * });
 * // { resource: 'https://api.example.com', authorization_servers: [...], scopes_supported: [...], bearer_methods_supported: ['header'] }
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): ProtectedResourceMetadata {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('protectedResourceMetadata needs options');
  const document: ProtectedResourceMetadata = {
    resource: resourceIdentifier(options.resource),
    bearer_methods_supported: bearerMethods(options.bearerMethodsSupported ?? [...PROTECTED_RESOURCE_METADATA_DEFAULTS.bearerMethodsSupported]),
  };
  if (options.authorizationServers !== undefined) {
    if (!Array.isArray(options.authorizationServers)) throw new ConfigurationError('authorizationServers must be a list of issuer identifiers');
    document.authorization_servers = options.authorizationServers.map(issuerIdentifier);
  }
  if (options.jwksUri !== undefined) document.jwks_uri = httpsUrl('jwksUri', options.jwksUri);
  if (options.scopesSupported !== undefined) {
    if (!Array.isArray(options.scopesSupported)) throw new ConfigurationError('scopesSupported must be a list of scopes');
    document.scopes_supported = options.scopesSupported.length === 0 ? [] : checkScopes(options.scopesSupported);
  }
  if (options.resourceName !== undefined) {
    if (typeof options.resourceName !== 'string' || options.resourceName.trim() === '') throw new ConfigurationError('resourceName must be a non-empty string');
    document.resource_name = options.resourceName;
  }
  if (options.resourceDocumentation !== undefined) document.resource_documentation = webUrl('resourceDocumentation', options.resourceDocumentation);
  if (options.resourcePolicyUri !== undefined) document.resource_policy_uri = webUrl('resourcePolicyUri', options.resourcePolicyUri);
  if (options.resourceTosUri !== undefined) document.resource_tos_uri = webUrl('resourceTosUri', options.resourceTosUri);
  // Members in the order RFC 9728 §2 lists them.
  const ordered: Record<string, unknown> = {};
  for (const member of MEMBER_ORDER) if (document[member] !== undefined) ordered[member] = document[member];
  return ordered as unknown as ProtectedResourceMetadata;
}

const MEMBER_ORDER: (keyof ProtectedResourceMetadata)[] = [
  'resource', 'authorization_servers', 'jwks_uri', 'scopes_supported', 'bearer_methods_supported',
  'resource_name', 'resource_documentation', 'resource_policy_uri', 'resource_tos_uri',
];

/**
 * Where the metadata of `resource` is (RFC 9728 §3.1): the well-known segment goes between the host
 * and the path, so `https://api.example.com/mcp` has its metadata at
 * `https://api.example.com/.well-known/oauth-protected-resource/mcp`, and `https://api.example.com`
 * (or `https://api.example.com/`) at `https://api.example.com/.well-known/oauth-protected-resource`.
 *
 * @example
 * resourceMetadataUrl('https://api.example.com/mcp'); // 'https://api.example.com/.well-known/oauth-protected-resource/mcp'
 */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resourceIdentifier(resource));
  // RFC 9728 §3.1: "If the resource identifier value contains a path or query component, any terminating
  // slash (/) following the host component MUST be removed before inserting /.well-known/ and the
  // well-known URI path suffix between the host component and the path and/or query components."
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${RESOURCE_METADATA_PATH}${path}${url.search}`;
}

/**
 * The paths a resource's metadata is served at: the path-suffixed one of RFC 9728 §3.1 and, for a
 * resource with a path, the root one too (clients such as MCP's try it when the first is missing).
 */
export function resourceMetadataPaths(resource: string): string[] {
  const path = new URL(resourceMetadataUrl(resource)).pathname;
  return path === RESOURCE_METADATA_PATH ? [path] : [path, RESOURCE_METADATA_PATH];
}

/** The answer to a request for a metadata document, for the adapters to send as they send things. */
export interface MetadataReply {
  status: number;
  headers: Record<string, string>;
  /** Undefined: no content (HEAD, OPTIONS, 405). */
  body: string | undefined;
}

/** How long clients and caches may keep a metadata document, in seconds. */
const METADATA_MAX_AGE_SECONDS = 3600; // 1 hour
/** How long a browser may keep the answer to a preflight, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 86_400; // 1 day

/** RFC 9110 §5.6.1: a list of field names (RFC 9110 §5.6.2 tokens), as a preflight's Access-Control-Request-Headers is. */
const FIELD_NAME_LIST = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\s*,\s*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/;

/**
 * The answer to `method` at a metadata URL: the document for GET (RFC 9728 §3.2: 200, application/json)
 * and HEAD, the preflight for OPTIONS, 405 for anything else. Every answer allows any origin without
 * credentials (the document is public), so a browser client (an MCP client in a page) can read it.
 *
 * @example
 * const reply = protectedResourceMetadataReply(metadata, { method: req.method, accessControlRequestHeaders: req.headers['access-control-request-headers'] });
 * res.writeHead(reply.status, reply.headers).end(reply.body);
 */
export function protectedResourceMetadataReply(
  document: ProtectedResourceMetadata,
  request: { method: string; accessControlRequestHeaders?: string | undefined },
): MetadataReply {
  const cors = { 'access-control-allow-origin': '*' };
  if (request.method === 'GET' || request.method === 'HEAD') {
    return {
      status: 200,
      headers: { ...cors, 'content-type': 'application/json; charset=utf-8', 'cache-control': `public, max-age=${METADATA_MAX_AGE_SECONDS}` },
      body: request.method === 'GET' ? JSON.stringify(document) : undefined,
    };
  }
  if (request.method === 'OPTIONS') {
    const headers: Record<string, string> = {
      ...cors,
      'access-control-allow-methods': 'GET, HEAD, OPTIONS',
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
      vary: 'Access-Control-Request-Headers',
    };
    // The headers a client asks to send (MCP clients send MCP-Protocol-Version): allowed, since the
    // document is public and no credentials are involved; anything that is not a list of names is not echoed.
    const asked = request.accessControlRequestHeaders?.trim();
    if (asked && FIELD_NAME_LIST.test(asked)) headers['access-control-allow-headers'] = asked;
    return { status: 204, headers, body: undefined };
  }
  return { status: 405, headers: { ...cors, allow: 'GET, HEAD, OPTIONS' }, body: undefined };
}

/**
 * RFC 9728 §1.2: "The protected resource's resource identifier, which is a URL that uses the https
 * scheme and has no fragment component." Plain http only on localhost, 127.0.0.1 and [::1], for
 * development, as for the issuer.
 */
function resourceIdentifier(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ConfigurationError('resource is required');
  const url = parse('resource', value);
  if (url.hash || value.includes('#')) throw new ConfigurationError('resource must not have a fragment (RFC 9728 §1.2)');
  checkScheme('resource', url);
  return value;
}

/** RFC 8414 §2: an issuer identifier is "a URL that uses the https scheme and has no query or fragment components". */
function issuerIdentifier(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ConfigurationError('authorizationServers must be issuer identifiers (URLs)');
  const url = parse('authorizationServers', value);
  if (url.search || url.hash || value.includes('?') || value.includes('#')) {
    throw new ConfigurationError(`authorization server "${value}" must not have a query or fragment (RFC 8414 §2)`);
  }
  checkScheme('authorizationServers', url);
  return value;
}

/** RFC 9728 §2 jwks_uri: "This URL MUST use the https scheme." (plain http on loopback for development). */
function httpsUrl(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ConfigurationError(`${name} must be a URL`);
  checkScheme(name, parse(name, value));
  return value;
}

/** A page for people (documentation, policy, terms): any http or https URL. */
function webUrl(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ConfigurationError(`${name} must be a URL`);
  const url = parse(name, value);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigurationError(`${name} must be an http or https URL`);
  return value;
}

function bearerMethods(value: unknown): string[] {
  if (!Array.isArray(value) || value.some((method) => !BEARER_METHODS.includes(method as string))) {
    throw new ConfigurationError(`bearerMethodsSupported must list some of ${BEARER_METHODS.join(', ')}`);
  }
  return [...new Set(value as string[])];
}

function parse(name: string, value: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new ConfigurationError(`${name}: "${value}" is not a URL`);
  }
}

function checkScheme(name: string, url: URL): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return;
  throw new ConfigurationError(`${name} must be an https URL (plain http only on localhost, 127.0.0.1 and [::1])`);
}
