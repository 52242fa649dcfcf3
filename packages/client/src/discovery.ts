import { DEFAULTS } from './defaults.ts';
import * as oauth from 'oauth4webapi';
import { DiscoveryError, NetworkError } from './errors.ts';
import { type FetchLike, isObject, serverFetch } from './lib/http.ts';
import { isSecureUrl } from './lib/secure-url.ts';

/**
 * Authorization server metadata (RFC 8414 §2, OpenID Connect Discovery 1.0 §3). Only the members this
 * SDK reads are typed; the rest are kept as they came.
 */
export interface ServerMetadata {
  issuer: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  jwks_uri?: string;
  userinfo_endpoint?: string;
  end_session_endpoint?: string;
  revocation_endpoint?: string;
  introspection_endpoint?: string;
  device_authorization_endpoint?: string;
  /** RFC 9126 §5: where authorization requests are pushed. */
  pushed_authorization_request_endpoint?: string;
  /** RFC 9126 §5: the server accepts authorization requests only through PAR. */
  require_pushed_authorization_requests?: boolean;
  /** RFC 9449 §5.1: the DPoP proof algorithms the server accepts. */
  dpop_signing_alg_values_supported?: string[];
  scopes_supported?: string[];
  grant_types_supported?: string[];
  code_challenge_methods_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  id_token_signing_alg_values_supported?: string[];
  /** RFC 8705 §5: the endpoints for clients that present a TLS client certificate. */
  mtls_endpoint_aliases?: Partial<Record<(typeof ENDPOINT_MEMBERS)[number], string>>;
  /** RFC 9207 §3: every authorization response carries `iss`. */
  authorization_response_iss_parameter_supported?: boolean;
  [member: string]: unknown;
}

/** Members that are URLs the SDK sends requests (and credentials) to. */
const ENDPOINT_MEMBERS = [
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'userinfo_endpoint',
  'end_session_endpoint',
  'revocation_endpoint',
  'introspection_endpoint',
  'device_authorization_endpoint',
  'pushed_authorization_request_endpoint',
] as const;

/**
 * Where an issuer publishes its metadata, in the order they are tried: OpenID Connect Discovery 1.0 §4
 * (`{issuer}/.well-known/openid-configuration`), then RFC 8414 §3.1 (the well-known segment between the
 * host and the issuer's path).
 */
export function metadataUrls(issuer: string): [string, string] {
  const url = new URL(issuer);
  // OIDC Discovery §4.1 and RFC 8414 §3.1: "any terminating '/' MUST be removed".
  const path = url.pathname.replace(/\/$/, '');
  return [`${url.origin}${path}/.well-known/openid-configuration`, `${url.origin}/.well-known/oauth-authorization-server${path}`];
}

export interface DiscoverOptions {
  fetch?: FetchLike | undefined;
  /** Per request. Default 10 000 ms. */
  timeoutMs?: number | undefined;
  /** Accept http endpoints on hosts other than localhost, 127.0.0.1 and [::1]. Never in production. */
  allowInsecureRequests?: boolean | undefined;
}

/**
 * Fetches and checks the issuer's metadata: the OpenID Connect location first, the RFC 8414 location
 * when the first does not answer 200, through oauth4webapi's `discoveryRequest` and
 * `processDiscoveryResponse`. The document must name exactly this issuer: oauth4webapi compares the
 * issuers as URLs, the SDK then as strings; and every endpoint must be https (or http on loopback).
 * LatchkeyClient calls this once and caches the result.
 *
 * @example
 * const metadata = await discover('https://login.example.com');
 * console.log(metadata.token_endpoint);
 */
export async function discover(issuer: string, options: DiscoverOptions = {}): Promise<ServerMetadata> {
  const customFetch = serverFetch({
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    timeoutMs: options.timeoutMs ?? DEFAULTS.requestTimeoutMs,
  });
  const allowInsecureRequests = options.allowInsecureRequests === true;
  const issuerUrl = new URL(issuer);
  if (!allowInsecureRequests && !isSecureUrl(issuerUrl)) throw new DiscoveryError(`${issuer} is not https (allowInsecureRequests permits it)`);
  const failures: string[] = [];
  for (const algorithm of ['oidc', 'oauth2'] as const) {
    let response: Response;
    try {
      response = await oauth.discoveryRequest(issuerUrl, {
        algorithm,
        [oauth.customFetch]: customFetch,
        // Held to https, or http on loopback, above.
        [oauth.allowInsecureRequests]: true,
      });
    } catch (err) {
      if (err instanceof NetworkError) throw new DiscoveryError(`discovery failed: ${err.message}`, { cause: err });
      throw err;
    }
    const url = metadataUrls(issuer)[algorithm === 'oidc' ? 0 : 1];
    if (response.status !== 200) {
      await response.body?.cancel();
      failures.push(`${url} answered HTTP ${response.status}`);
      continue;
    }
    // A document that names another issuer is never retried elsewhere: it is a misconfiguration or a
    // mix-up attempt, not a missing document.
    let body: oauth.AuthorizationServer;
    try {
      body = await oauth.processDiscoveryResponse(issuerUrl, response);
    } catch (err) {
      if (err instanceof oauth.OperationProcessingError && err.code === oauth.JSON_ATTRIBUTE_COMPARISON) {
        const named = (err.cause as { body?: { issuer?: unknown } } | undefined)?.body?.issuer;
        throw new DiscoveryError(`${url} names the issuer ${JSON.stringify(named)}, not ${JSON.stringify(issuer)}`, { cause: err });
      }
      throw new DiscoveryError(`${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return checkMetadata(body, issuer, url, allowInsecureRequests);
  }
  throw new DiscoveryError(`no metadata for ${issuer}: ${failures.join('; ')}`);
}

function checkMetadata(body: unknown, issuer: string, url: string, allowInsecureRequests: boolean): ServerMetadata {
  if (!isObject(body)) throw new DiscoveryError(`${url} did not answer with a JSON object`);
  // OIDC Discovery §4.3: "The issuer value returned MUST be identical to the Issuer URL that was used
  // as the prefix to /.well-known/openid-configuration". RFC 8414 §3.3: "identical to the authorization
  // server's issuer identifier ... If these values are not identical, the data contained in the
  // response MUST NOT be used." Identical means the same string, not the same URL after normalising.
  if (body.issuer !== issuer) {
    throw new DiscoveryError(`${url} names the issuer ${JSON.stringify(body.issuer)}, not ${JSON.stringify(issuer)}`);
  }
  checkEndpoints(body, '', url, allowInsecureRequests);
  // RFC 8705 §5: the endpoints a client presenting a certificate uses instead; held to the same rules.
  const aliases = body.mtls_endpoint_aliases;
  if (aliases !== undefined) {
    if (!isObject(aliases)) throw new DiscoveryError(`${url}: mtls_endpoint_aliases is not a JSON object`);
    checkEndpoints(aliases, 'mtls_endpoint_aliases.', url, allowInsecureRequests);
  }
  if (body.authorization_response_iss_parameter_supported !== undefined && typeof body.authorization_response_iss_parameter_supported !== 'boolean') {
    throw new DiscoveryError(`${url}: authorization_response_iss_parameter_supported is not a boolean`);
  }
  return body as ServerMetadata;
}

function checkEndpoints(members: Record<string, unknown>, prefix: string, url: string, allowInsecureRequests: boolean): void {
  for (const member of ENDPOINT_MEMBERS) {
    const value = members[member];
    if (value === undefined) continue;
    let endpoint: URL;
    try {
      if (typeof value !== 'string') throw new TypeError('not a string');
      endpoint = new URL(value);
    } catch {
      throw new DiscoveryError(`${url}: ${prefix}${member} is not an absolute URL`);
    }
    if (!allowInsecureRequests && !isSecureUrl(endpoint)) {
      throw new DiscoveryError(`${url}: ${prefix}${member} ${value} is not https (allowInsecureRequests permits it)`);
    }
  }
}
