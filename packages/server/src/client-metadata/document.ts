import { checkClientJwks } from '../client-auth/client-keys.ts';
import { checkJwksUriSyntax } from '../client-auth/jwks-fetch.ts';
import { OIDC_SCOPES } from '../registry/oidc-scopes.ts';
import { checkRedirectUriForRegistration, redirectUriRules } from '../registry/redirect-uri.ts';
import type { ClientType, Resource, TokenEndpointAuthMethod } from '../registry/types.ts';
import type { NewClient } from '../storage/client-store.ts';
import { ClientMetadataError } from './errors.ts';

/**
 * A fetched Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document §4), read into
 * the client it describes. The document is the client's registration, so the rules of a
 * self-registered client hold (docs/security.md L77): never first-party, only the scopes the operator
 * opened to registered clients, the audiences of those scopes, and no secret.
 */

/** Redirect URIs a document may list at most. */
export const MAX_DOCUMENT_REDIRECT_URIS = 20;
/** Longest `client_name`. */
const MAX_NAME_LENGTH = 200;
/** Longest display URL (`client_uri`, `logo_uri`) and `scope`. */
const MAX_TEXT_LENGTH = 2000;

/** Grant types a metadata-document client may use: a user's sign-in, and refresh tokens for it. */
const DOCUMENT_GRANT_TYPES = ['authorization_code', 'refresh_token'];

/** The client a document describes, as stored (without its creation time). */
export type DocumentClient = Omit<NewClient, 'createdAt'>;

/**
 * Reads `value`, the parsed body fetched from `clientId`, into its client. Throws ClientMetadataError
 * for a document that breaks a rule: draft §5.2 "MUST NOT cache documents which are invalid or
 * malformed", so nothing of it is kept.
 */
export async function readMetadataDocument(clientId: string, value: unknown, resources: readonly Resource[]): Promise<DocumentClient> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ClientMetadataError('the document is not a JSON object');
  const m = value as Record<string, unknown>;
  // §4: "The Client ID Metadata Document MUST contain a client_id property whose value MUST match the
  // Client Identifier URL, which MUST also match the URL that the authorization server used to fetch
  // the document; comparisons MUST be made using simple string comparison".
  if (m.client_id !== clientId) throw new ClientMetadataError('the document\'s client_id is not exactly the URL it was fetched from');
  // §4.1: "the client_secret and client_secret_expires_at properties MUST NOT be used".
  for (const member of ['client_secret', 'client_secret_expires_at']) {
    if (Object.hasOwn(m, member)) throw new ClientMetadataError(`the document has ${member}: a metadata document has no shared secret`);
  }
  const method = readAuthMethod(m);
  const type: ClientType = method === 'none' ? 'public' : 'confidential';
  const grantTypes = readGrantTypes(m);
  const redirectUris = readRedirectUris(m, type);
  const keys = await readKeys(m, method);
  const { scopes, oidcScopes, audienceResourceIds } = readScopes(m, grantTypes, resources);
  checkDisplayUrls(m);
  // RFC 9126 §6 require_pushed_authorization_requests, a Boolean, false when omitted: a client may
  // hold itself to pushed authorization requests.
  const requirePar = m.require_pushed_authorization_requests;
  if (requirePar !== undefined && typeof requirePar !== 'boolean') throw new ClientMetadataError('require_pushed_authorization_requests is not a Boolean');
  return {
    clientId,
    name: readName(m, clientId),
    type,
    tokenEndpointAuthMethod: method,
    secretHash: null,
    grantTypes,
    scopes,
    audienceResourceIds,
    redirectUris,
    postLogoutRedirectUris: [],
    oidcScopes,
    // docs/security.md L77: the user is always asked.
    firstParty: false,
    ...keys,
    requirePushedAuthorizationRequests: requirePar === true,
    source: 'metadata-document',
  };
}

/**
 * `token_endpoint_auth_method`: `none` (a public client; also when left out, since a document cannot
 * carry the secret of RFC 7591's default) or `private_key_jwt` with the client's public keys. §4.1: it
 * "MUST NOT include client_secret_post, client_secret_basic, client_secret_jwt, or any other method
 * based around a shared symmetric secret".
 */
function readAuthMethod(m: Record<string, unknown>): TokenEndpointAuthMethod {
  const method = m.token_endpoint_auth_method ?? 'none';
  if (method === 'none' || method === 'private_key_jwt') return method;
  throw new ClientMetadataError(`token_endpoint_auth_method ${JSON.stringify(method).slice(0, 60)} is not accepted: use none or private_key_jwt`);
}

/** RFC 7591 §2 `grant_types` (default `authorization_code`): the code grant, with refresh tokens if listed. */
function readGrantTypes(m: Record<string, unknown>): string[] {
  const given = m.grant_types ?? ['authorization_code'];
  if (!Array.isArray(given) || given.some((g) => typeof g !== 'string')) throw new ClientMetadataError('grant_types must be an array of strings');
  const grantTypes = [...new Set(given as string[])];
  const other = grantTypes.find((g) => !DOCUMENT_GRANT_TYPES.includes(g));
  if (other !== undefined) throw new ClientMetadataError(`grant type ${other.slice(0, 60)} is not available to metadata-document clients`);
  if (!grantTypes.includes('authorization_code')) throw new ClientMetadataError('grant_types must include authorization_code');
  // RFC 7591 §2.1: response_types must agree with grant_types; only `code` exists (OAuth 2.1 §10.1).
  const responseTypes = m.response_types;
  if (responseTypes !== undefined && !(Array.isArray(responseTypes) && responseTypes.length === 1 && responseTypes[0] === 'code')) {
    throw new ClientMetadataError('response_types may only be ["code"]');
  }
  return grantTypes;
}

/**
 * §4.2: the document "establishes registered redirect URL(s)", compared as strings at the
 * authorization endpoint. Each one is held to the registration rules of redirect URIs
 * (docs/security.md A5, A6), `http://localhost` for public clients only; one that breaks them refuses
 * the whole document.
 */
function readRedirectUris(m: Record<string, unknown>, type: ClientType): string[] {
  const given = m.redirect_uris;
  if (!Array.isArray(given) || given.length === 0 || given.some((u) => typeof u !== 'string')) {
    throw new ClientMetadataError('redirect_uris must be a non-empty array of strings');
  }
  const uris = [...new Set(given as string[])];
  if (uris.length > MAX_DOCUMENT_REDIRECT_URIS) throw new ClientMetadataError(`redirect_uris may list at most ${MAX_DOCUMENT_REDIRECT_URIS} URIs`);
  for (const uri of uris) {
    const check = checkRedirectUriForRegistration(uri, redirectUriRules(type));
    if (!check.ok) throw new ClientMetadataError(`redirect URI ${JSON.stringify(uri.slice(0, 200))}: ${check.reason}`);
  }
  return uris;
}

/**
 * RFC 7591 §2 `jwks` or `jwks_uri`, for private_key_jwt only and then exactly one ("MUST NOT both be
 * present"). §4.1: "private key material MUST NOT be included": the keys are checked as an operator's
 * are (public signing keys only); a jwks_uri is fetched through the SSRF guard when the client
 * authenticates.
 */
async function readKeys(m: Record<string, unknown>, method: TokenEndpointAuthMethod): Promise<Pick<NewClient, 'jwks' | 'jwksUri'>> {
  const jwks = m.jwks ?? undefined;
  const jwksUri = m.jwks_uri ?? undefined;
  if (method !== 'private_key_jwt') {
    if (jwks !== undefined || jwksUri !== undefined) throw new ClientMetadataError('jwks and jwks_uri are only for private_key_jwt');
    return { jwks: null, jwksUri: null };
  }
  if ((jwks === undefined) === (jwksUri === undefined)) throw new ClientMetadataError('private_key_jwt needs exactly one of jwks and jwks_uri');
  if (jwksUri !== undefined) {
    const problem = typeof jwksUri === 'string' ? checkJwksUriSyntax(jwksUri) : 'must be a string';
    if (problem) throw new ClientMetadataError(`jwks_uri ${problem}`);
    return { jwks: null, jwksUri: jwksUri as string };
  }
  const checked = await checkClientJwks(jwks);
  if (!checked.ok) throw new ClientMetadataError(`jwks: ${checked.reason}`);
  return { jwks: checked.jwks, jwksUri: null };
}

/**
 * The scopes: every scope the operator opened to registered clients, and `openid profile email` (with
 * `offline_access` when the document lists refresh tokens); a document's RFC 7591 §2 `scope` narrows
 * them (scopes this server does not offer are ignored: the document is written for any server). The
 * audiences are the resources of the API scopes kept.
 */
function readScopes(m: Record<string, unknown>, grantTypes: string[], resources: readonly Resource[]) {
  const scope = m.scope;
  if (scope !== undefined && (typeof scope !== 'string' || scope.length > MAX_TEXT_LENGTH)) {
    throw new ClientMetadataError(`scope must be a string of at most ${MAX_TEXT_LENGTH} characters`);
  }
  const wanted = scope === undefined ? undefined : new Set(scope.split(' '));
  const keep = (s: string) => wanted === undefined || wanted.has(s);
  const oidcScopes = ['openid', 'profile', 'email', ...(grantTypes.includes('refresh_token') ? ['offline_access'] : [])].filter(
    (s) => OIDC_SCOPES.has(s) && keep(s),
  );
  const scopes: string[] = [];
  const audienceResourceIds: string[] = [];
  for (const resource of resources) {
    const open = resource.scopes.filter((s) => s.openToRegisteredClients && keep(s.scope)).map((s) => s.scope);
    if (open.length === 0) continue;
    scopes.push(...open);
    audienceResourceIds.push(resource.id);
  }
  return { scopes, oidcScopes, audienceResourceIds };
}

/**
 * `client_uri` and `logo_uri`: kept in the stored document as text, never fetched (§9.2: fetching or
 * showing them to the browser would let their host follow the user).
 */
function checkDisplayUrls(m: Record<string, unknown>): void {
  for (const member of ['client_uri', 'logo_uri']) {
    const value = m[member];
    if (value !== undefined && (typeof value !== 'string' || value.length > MAX_TEXT_LENGTH)) {
      throw new ClientMetadataError(`${member} must be a string of at most ${MAX_TEXT_LENGTH} characters`);
    }
  }
}

/**
 * `client_name`, shown on the consent page as text; without one, the URL's host (§8.5: the server
 * "SHOULD display the hostname of the client_id").
 */
function readName(m: Record<string, unknown>, clientId: string): string {
  const name = m.client_name;
  if (name === undefined) return new URL(clientId).host;
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME_LENGTH || /[\x00-\x1f\x7f]/.test(name)) {
    throw new ClientMetadataError(`client_name must be printable text of 1-${MAX_NAME_LENGTH} characters`);
  }
  return name.trim();
}
