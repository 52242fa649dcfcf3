import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { CreateClientInput } from '../registry/registry.ts';
import type { ClientType, Resource, TokenEndpointAuthMethod } from '../registry/types.ts';
import { checkBackchannelLogoutUri, MAX_BACKCHANNEL_LOGOUT_URI_LENGTH } from '../registry/backchannel-logout-uri.ts';
import { InvalidClientMetadata, InvalidRedirectUri, InvalidSoftwareStatement, UnapprovedSoftwareStatement } from './errors.ts';
import { SUBJECT_METADATA, type TlsClientAuthSubject } from '../mtls/subject.ts';

/**
 * RFC 7591 §2 client metadata, as a self-registered client may send it: read, bounded and mapped to
 * what the registry registers. The registry then applies every rule an operator's client is held to
 * (redirect URIs, grants, keys) and those of self-registered clients (open scopes only, never
 * first-party): registry/registry.ts.
 */

/** Redirect URIs (and post-logout redirect URIs) a registered client may have at most. */
export const MAX_REGISTERED_REDIRECT_URIS = 10;
/** Longest `client_name`, `software_id` and `software_version`. */
export const MAX_NAME_LENGTH = 200;
/** Longest display URL (`client_uri`, `logo_uri`, `policy_uri`, `tos_uri`). */
export const MAX_DISPLAY_URL_LENGTH = 2000;
/** `contacts` entries at most, and the longest one. */
export const MAX_CONTACTS = 5;
export const MAX_CONTACT_LENGTH = 254;
/** Longest `scope` value. */
export const MAX_SCOPE_LENGTH = 2000;

/** The name a client that gave no `client_name` is shown under. */
export const UNNAMED_CLIENT = 'Unnamed application';

/** RFC 7591 §2 token endpoint authentication methods a client may register with. */
const AUTH_METHODS: readonly TokenEndpointAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  // RFC 8705 §2.1.1 and §2.2.1: registered like any other method.
  'tls_client_auth',
  'self_signed_tls_client_auth',
  'none',
];

/** Members stored as given and echoed back (RFC 7591 §3.2.1), never fetched or interpreted by the server. */
export interface DescriptiveMetadata {
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  policy_uri?: string;
  tos_uri?: string;
  contacts?: string[];
  software_id?: string;
  software_version?: string;
}

/** A registration request read into what the registry registers and what is only echoed. */
export interface ClientMetadata {
  input: Omit<CreateClientInput, 'clientId'>;
  descriptive: DescriptiveMetadata;
}

export interface MetadataPolicy {
  /** LATCHKEY_REGISTRATION_ALLOW_CLIENT_CREDENTIALS. */
  allowClientCredentials: boolean;
  /** Every resource, for the default scope. */
  resources: readonly Resource[];
  /** LATCHKEY_ALLOW_LOOPBACK_BACKCHANNEL_LOGOUT: a `backchannel_logout_uri` may be http on loopback. */
  allowLoopbackBackchannelLogout?: boolean;
}

/**
 * Reads the JSON body of a registration (RFC 7591 §3.1) or update (RFC 7592 §2.2) request. Members
 * this server does not know are ignored (RFC 7591 §2: "The authorization server MUST ignore any client
 * metadata sent by the client that it does not understand"), `first_party` among them.
 */
export function readClientMetadata(body: unknown, policy: MetadataPolicy): ClientMetadata {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidClientMetadata('the request body must be a JSON object of client metadata');
  }
  const m = body as Record<string, unknown>;
  checkSoftwareStatement(m);

  const method = optionalString(m, 'token_endpoint_auth_method', 50) ?? 'client_secret_basic';
  // RFC 7591 §2: "If unspecified or omitted, the default is "client_secret_basic"".
  if (!(AUTH_METHODS as readonly string[]).includes(method)) {
    throw new InvalidClientMetadata(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  }
  const grantTypes = readGrantTypes(m, policy);
  readResponseTypes(m, grantTypes);
  const redirectUris = uriList(m, 'redirect_uris');
  const postLogoutRedirectUris = uriList(m, 'post_logout_redirect_uris');
  // RFC 7591 §2: redirect_uris are for "redirect-based flows"; every code-flow client needs one.
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    throw new InvalidRedirectUri('redirect_uris must list at least one URI for the authorization_code grant');
  }
  const keys = readKeys(m, method as TokenEndpointAuthMethod);
  const alg = optionalString(m, 'id_token_signed_response_alg', 20);
  const descriptive = readDescriptive(m);
  // RFC 9449 §5.2: "dpop_bound_access_tokens: Boolean value specifying whether the client always uses
  // DPoP for token requests. If omitted, the default value is false."
  const dpopBound = m.dpop_bound_access_tokens;
  if (dpopBound !== undefined && typeof dpopBound !== 'boolean') throw new InvalidClientMetadata('dpop_bound_access_tokens must be true or false');
  const tls = readTlsClientAuth(m, method as TokenEndpointAuthMethod);
  const requirePar = readRequirePushedAuthorizationRequests(m);
  const backchannel = readBackchannelLogout(m, method === 'none' ? 'public' : 'confidential', policy.allowLoopbackBackchannelLogout === true);

  return {
    input: {
      name: descriptive.client_name ?? UNNAMED_CLIENT,
      type: method === 'none' ? 'public' : 'confidential',
      tokenEndpointAuthMethod: method as TokenEndpointAuthMethod,
      grantTypes,
      scopes: readScope(m, grantTypes, policy.resources),
      redirectUris,
      postLogoutRedirectUris,
      ...(alg !== undefined ? { idTokenSignedResponseAlg: alg as CreateClientInput['idTokenSignedResponseAlg'] } : {}),
      ...keys,
      // docs/security.md L77: never first-party, whatever the request says.
      firstParty: false,
      dpopBoundAccessTokens: dpopBound === true,
      ...tls,
      requirePushedAuthorizationRequests: requirePar,
      ...backchannel,
      source: 'dynamic-registration',
    },
    descriptive,
  };
}

/**
 * RFC 7591 §3.2.2: a `software_statement` that is not a JWT is `invalid_software_statement`; this
 * server trusts no software statement issuer, so any well-formed one is `unapproved_software_statement`
 * (RFC 7591 §2.3: the server decides whether it trusts the issuer of the statement).
 */
function checkSoftwareStatement(m: Record<string, unknown>): void {
  if (!Object.hasOwn(m, 'software_statement')) return;
  const statement = m.software_statement;
  let wellFormed = false;
  if (typeof statement === 'string' && statement.length <= 16 * 1024) {
    try {
      decodeProtectedHeader(statement);
      decodeJwt(statement);
      wellFormed = true;
    } catch {
      wellFormed = false;
    }
  }
  if (!wellFormed) throw new InvalidSoftwareStatement('the software_statement is not a JWT (RFC 7591 §2.3)');
  throw new UnapprovedSoftwareStatement('this server approves no software statements: register without one');
}

/**
 * RFC 7591 §2 `grant_types`: "If omitted, the default behavior is that the client will use only the
 * "authorization_code" Grant Type." A registered client may use the authorization code grant with
 * refresh tokens, and client_credentials only where the operator allows it (a token with no user behind
 * it, for a client nobody vetted).
 */
function readGrantTypes(m: Record<string, unknown>, policy: MetadataPolicy): string[] {
  const given = optionalStringList(m, 'grant_types', 10, 200) ?? ['authorization_code'];
  const allowed = ['authorization_code', 'refresh_token', ...(policy.allowClientCredentials ? ['client_credentials'] : [])];
  const grantTypes = [...new Set(given)];
  if (grantTypes.length === 0) throw new InvalidClientMetadata('grant_types must not be empty');
  for (const grant of grantTypes) {
    if (!allowed.includes(grant)) {
      throw new InvalidClientMetadata(`grant type ${grant.slice(0, 100)} is not available to registered clients (available: ${allowed.join(', ')})`);
    }
  }
  return grantTypes;
}

/**
 * RFC 7591 §2 `response_types`: only `code` (OAuth 2.1 §10.1). §2.1: "the authorization server MUST
 * ensure that they are consistent", so `code` is required with the authorization_code grant and
 * refused without it. Omitted means ["code"], ignored for a client without the code grant.
 */
function readResponseTypes(m: Record<string, unknown>, grantTypes: string[]): void {
  const given = optionalStringList(m, 'response_types', 10, 100);
  if (given === undefined) return;
  const types = [...new Set(given)];
  if (types.some((t) => t !== 'code')) throw new InvalidClientMetadata('response_types may only be ["code"]');
  if (grantTypes.includes('authorization_code') !== types.includes('code')) {
    throw new InvalidClientMetadata('response_types ["code"] goes with the authorization_code grant, and only with it (RFC 7591 §2.1)');
  }
}

/** redirect_uris or post_logout_redirect_uris: a list of at most 10 strings, each checked by the registry. */
function uriList(m: Record<string, unknown>, name: string): string[] {
  if (!Object.hasOwn(m, name) || m[name] === null) return [];
  const value = m[name];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new InvalidRedirectUri(`${name} must be an array of strings`);
  if (value.length > MAX_REGISTERED_REDIRECT_URIS) throw new InvalidRedirectUri(`${name} may list at most ${MAX_REGISTERED_REDIRECT_URIS} URIs`);
  return value as string[];
}

/**
 * RFC 7591 §2 `scope`: space-separated scope values. "If omitted, an authorization server MAY register a
 * client with a default set of scopes": here every scope the operator opened to registered clients, and
 * with the authorization code grant `openid profile email` (and `offline_access` with refresh tokens),
 * so an OpenID Connect relying party, which does not send `scope` at registration, works. The registry
 * refuses any scope that is unknown or not open.
 */
function readScope(m: Record<string, unknown>, grantTypes: string[], resources: readonly Resource[]): string[] {
  const given = optionalString(m, 'scope', MAX_SCOPE_LENGTH);
  if (given !== undefined) return given.split(' ').filter((s) => s !== '');
  const open = resources.flatMap((r) => r.scopes.filter((s) => s.openToRegisteredClients).map((s) => s.scope));
  const oidc = grantTypes.includes('authorization_code') ? ['openid', 'profile', 'email'] : [];
  if (oidc.length > 0 && grantTypes.includes('refresh_token')) oidc.push('offline_access');
  return [...oidc, ...open];
}

/**
 * RFC 7591 §2 `jwks` and `jwks_uri`, for private_key_jwt only: "The "jwks_uri" and "jwks" parameters
 * MUST NOT both be present in the same request or response." The registry checks the keys and the
 * URL's syntax (the SSRF guard's rules, client-auth/jwks-fetch.ts); the URL is fetched only when the
 * client authenticates, through the guard.
 */
function readKeys(m: Record<string, unknown>, method: TokenEndpointAuthMethod): Pick<CreateClientInput, 'jwks' | 'jwksUri'> {
  const jwks = Object.hasOwn(m, 'jwks') && m.jwks !== null ? m.jwks : undefined;
  const jwksUri = optionalString(m, 'jwks_uri', 2000);
  if (jwks !== undefined && jwksUri !== undefined) throw new InvalidClientMetadata('jwks and jwks_uri must not both be present (RFC 7591 §2)');
  // RFC 8705 §2.2.1: a self_signed_tls_client_auth client registers its certificates' keys "using
  // jwks or jwks_uri", as a private_key_jwt client does.
  if (method !== 'private_key_jwt' && method !== 'self_signed_tls_client_auth') {
    if (jwks !== undefined || jwksUri !== undefined) {
      throw new InvalidClientMetadata('jwks and jwks_uri are only for token_endpoint_auth_method private_key_jwt or self_signed_tls_client_auth');
    }
    return {};
  }
  if (jwks === undefined && jwksUri === undefined) throw new InvalidClientMetadata(`${method} needs jwks or jwks_uri`);
  return jwks !== undefined ? { jwks } : { jwksUri };
}

/** The members only shown and echoed: names and display URLs, bounded; URLs must be https. */
function readDescriptive(m: Record<string, unknown>): DescriptiveMetadata {
  const out: DescriptiveMetadata = {};
  const name = optionalString(m, 'client_name', MAX_NAME_LENGTH)?.trim();
  if (name !== undefined) {
    if (name === '' || /[\x00-\x1f\x7f]/.test(name)) throw new InvalidClientMetadata('client_name must be printable text');
    out.client_name = name;
  }
  for (const member of ['client_uri', 'logo_uri', 'policy_uri', 'tos_uri'] as const) {
    const url = optionalString(m, member, MAX_DISPLAY_URL_LENGTH);
    if (url === undefined) continue;
    const problem = displayUrlProblem(url);
    if (problem) throw new InvalidClientMetadata(`${member} ${problem}`);
    out[member] = url;
  }
  const contacts = optionalStringList(m, 'contacts', MAX_CONTACTS, MAX_CONTACT_LENGTH);
  if (contacts !== undefined) out.contacts = contacts;
  for (const member of ['software_id', 'software_version'] as const) {
    const value = optionalString(m, member, MAX_NAME_LENGTH);
    if (value !== undefined) out[member] = value;
  }
  return out;
}

/**
 * RFC 7591 §5: display URLs are shown to users, so they must be https URLs of the usual shape (no
 * userinfo, nothing a parser reads two ways); the server never fetches them.
 */
function displayUrlProblem(value: string): string | undefined {
  if (/[\s\x00-\x1f\x7f\\]/.test(value)) return 'must not contain spaces, control characters or backslashes';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute https URL';
  }
  if (url.protocol !== 'https:') return 'must be an https URL';
  if (url.username || url.password || /^https:\/\/[^/?#]*@/i.test(value)) return 'must not contain userinfo (user@host)';
  return undefined;
}

/** A member that must be a string of at most `max` characters when present (null counts as absent). */
function optionalString(m: Record<string, unknown>, name: string, max: number): string | undefined {
  if (!Object.hasOwn(m, name) || m[name] === null) return undefined;
  const value = m[name];
  if (typeof value !== 'string') throw new InvalidClientMetadata(`${name} must be a string`);
  if (value.length > max) throw new InvalidClientMetadata(`${name} must be at most ${max} characters`);
  return value;
}

/** A member that must be an array of at most `maxItems` strings of at most `maxLength` characters. */
function optionalStringList(m: Record<string, unknown>, name: string, maxItems: number, maxLength: number): string[] | undefined {
  if (!Object.hasOwn(m, name) || m[name] === null) return undefined;
  const value = m[name];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new InvalidClientMetadata(`${name} must be an array of strings`);
  if (value.length > maxItems) throw new InvalidClientMetadata(`${name} may have at most ${maxItems} entries`);
  if ((value as string[]).some((v) => v.length > maxLength)) throw new InvalidClientMetadata(`each entry of ${name} must be at most ${maxLength} characters`);
  return value as string[];
}

/**
 * RFC 9126 §6: "require_pushed_authorization_requests: Boolean parameter indicating whether the only
 * means of initiating an authorization request the client is allowed to use is PAR. If omitted, the
 * default value is false."
 */
function readRequirePushedAuthorizationRequests(m: Record<string, unknown>): boolean {
  const value = m.require_pushed_authorization_requests;
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidClientMetadata('require_pushed_authorization_requests must be true or false');
  return value === true;
}

/**
 * RFC 8705 §2.1.2: a tls_client_auth client registers exactly one of the subject members; §3.4:
 * `tls_client_certificate_bound_access_tokens`, a boolean, false when omitted.
 */
function readTlsClientAuth(
  m: Record<string, unknown>,
  method: TokenEndpointAuthMethod,
): Pick<CreateClientInput, 'tlsClientAuth' | 'tlsClientCertificateBoundAccessTokens'> {
  const bound = m.tls_client_certificate_bound_access_tokens;
  if (bound !== undefined && typeof bound !== 'boolean') throw new InvalidClientMetadata('tls_client_certificate_bound_access_tokens must be true or false');
  const given = Object.entries(SUBJECT_METADATA).filter(([, member]) => Object.hasOwn(m, member) && m[member] !== null);
  if (method !== 'tls_client_auth') {
    if (given.length > 0) throw new InvalidClientMetadata('the tls_client_auth_* members are only for token_endpoint_auth_method tls_client_auth');
    return { tlsClientCertificateBoundAccessTokens: bound === true };
  }
  // RFC 8705 §2.1.2: "A client using the tls_client_auth authentication method MUST use exactly one
  // of the below metadata parameters".
  if (given.length !== 1) throw new InvalidClientMetadata('tls_client_auth needs exactly one of the tls_client_auth_subject_dn and tls_client_auth_san_* members');
  const [kind, member] = given[0]!;
  const value = m[member];
  if (typeof value !== 'string' || value === '' || value.length > 500) throw new InvalidClientMetadata(`${member} must be a non-empty string`);
  return { tlsClientAuth: { [kind]: value } as TlsClientAuthSubject, tlsClientCertificateBoundAccessTokens: bound === true };
}

/**
 * OpenID Connect Back-Channel Logout 1.0 §2.2 `backchannel_logout_uri` (registry/backchannel-logout-uri.ts:
 * https, or http to a loopback address for a confidential client, here only when
 * LATCHKEY_ALLOW_LOOPBACK_BACKCHANNEL_LOGOUT allows it; "MUST NOT include a fragment component") and
 * `backchannel_logout_session_required` ("If omitted, the default value is false").
 */
function readBackchannelLogout(
  m: Record<string, unknown>,
  type: ClientType,
  allowLoopback: boolean,
): Pick<CreateClientInput, 'backchannelLogoutUri' | 'backchannelLogoutSessionRequired'> {
  const uri = optionalString(m, 'backchannel_logout_uri', MAX_BACKCHANNEL_LOGOUT_URI_LENGTH);
  const required = m.backchannel_logout_session_required;
  if (required !== undefined && required !== null && typeof required !== 'boolean') {
    throw new InvalidClientMetadata('backchannel_logout_session_required must be true or false');
  }
  if (uri !== undefined) {
    const problem = checkBackchannelLogoutUri(uri, type);
    if (problem) throw new InvalidClientMetadata(`backchannel_logout_uri ${problem}`);
    if (uri.toLowerCase().startsWith('http:') && !allowLoopback) throw new InvalidClientMetadata('backchannel_logout_uri must use https');
  }
  return { backchannelLogoutUri: uri ?? null, backchannelLogoutSessionRequired: required === true };
}
