import type { ServerContext } from '../context.ts';
import {
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  OAuthError,
  RequestNotSupported,
  RequestUriNotSupported,
  UnsupportedResponseType,
} from '../errors.ts';
import { ClientMetadataError } from '../client-metadata/errors.ts';
import { findClient } from '../client-metadata/find-client.ts';
import { checkPkceRequest } from './pkce.ts';
import type { FormParams } from '../lib/form-params.ts';
import { isResourceIndicator, SCOPE_TOKEN } from '../lib/syntax.ts';
import { OIDC_SCOPES } from '../registry/oidc-scopes.ts';
import { matchRedirectUri, redirectUriRules } from '../registry/redirect-uri.ts';
import type { Client } from '../registry/types.ts';
import { isFapi2 } from '../profiles/fapi2.ts';
import { PAR_PROOF_PARAM, verifyPushedProof } from './pushed-proof.ts';
import { ENGLISH, type MessageKey } from '../i18n/catalogs.ts';

/** The authorization request parameters Latchkey reads; the login and consent forms carry exactly these. */
export const AUTHORIZATION_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'max_age',
  'acr_values',
  'login_hint',
  'ui_locales',
  'resource',
  'dpop_jkt',
] as const;

/**
 * RFC 9126 §2.2: "The authorization server MAY construct the request_uri value using the form
 * urn:ietf:params:oauth:request_uri:<reference-value> with <reference-value> as the random part of the
 * URI that references the respective authorization request data."
 */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';

/** RFC 8707 §2: "Multiple resource parameters MAY be used"; every other parameter comes at most once. */
const REPEATABLE_PARAMS: ReadonlySet<string> = new Set(['resource']);

export type Prompt = 'none' | 'login' | 'consent';

/**
 * Where a request's parameters come from: the browser's request to /authorize (`front-channel`); the
 * client, which pushed them (RFC 9126), at /par and at /authorize from their request_uri (`pushed`);
 * or the hidden fields of the login and consent pages (`page`), which prove with a `par_proof` that
 * they are a pushed request's (authorize/pushed-proof.ts).
 */
export type RequestSource = 'front-channel' | 'pushed' | 'page';

/** A validated authorization request: every field is safe to act on. */
export interface AuthorizationRequest {
  client: Client;
  /** The registered URI the request selected (loopback port as presented). */
  redirectUri: string;
  state: string | undefined;
  /** The scopes asked for: the `scope` parameter, or the default scopes of the resources named. */
  scope: string[];
  /** RFC 8707 resource indicators, each an API the client may use; empty when none was named. */
  resources: string[];
  nonce: string | null;
  codeChallenge: string;
  prompt: ReadonlySet<Prompt>;
  maxAge: number | undefined;
  /** OIDC Core §3.1.2.1 `acr_values`, in order of preference; empty when none was asked for. */
  acrValues: string[];
  loginHint: string | undefined;
  /** OIDC Core §3.1.2.1 `ui_locales`: the user's languages for the pages, in order of preference. */
  uiLocales: string | undefined;
  /** RFC 9449 §10: the thumbprint of the DPoP key the code will be bound to; undefined: none. */
  dpopJkt: string | undefined;
  /** Whether the client pushed the request (RFC 9126), which a client or server may require. */
  pushed: boolean;
  /**
   * The request's own parameters, to carry through the login and consent pages (`resource` as a list);
   * with the `par_proof` of a pushed request once it has one.
   */
  params: Record<string, string | string[]>;
}

/**
 * The request cannot be answered by redirect: unknown client or an unusable redirect URI (RFC 6749
 * §4.1.2.1, RFC 9700 §4.11.2). The user sees an error page; nothing goes back to the redirect URI.
 */
export class AuthorizationPageError extends Error {
  /** The page's title and explanation, as messages in the user's language (i18n/). */
  readonly title: MessageKey;
  readonly explanation: MessageKey;
  readonly status: number;

  constructor(
    title: MessageKey,
    explanation: MessageKey,
    status = 400,
  ) {
    super(ENGLISH.messages[explanation]);
    this.title = title;
    this.explanation = explanation;
    this.status = status;
  }
}

/** An error to send back to the client's redirect URI (RFC 6749 §4.1.2.1). */
export class AuthorizationRedirectError extends Error {
  readonly target: { redirectUri: string; state: string | undefined };
  readonly oauth: OAuthError;

  constructor(
    target: { redirectUri: string; state: string | undefined },
    oauth: OAuthError,
  ) {
    super(oauth.description);
    this.target = target;
    this.oauth = oauth;
  }
}

/** Longest `state` and `nonce` accepted (the nonce is stored with the code). */
const MAX_STATE_LENGTH = 2000;
const MAX_NONCE_LENGTH = 500;
const MAX_LOGIN_HINT_LENGTH = 200;
/** Longer lists than this are cut: no one prefers more languages than fit in it. */
const MAX_UI_LOCALES_LENGTH = 200;
/** A few class names; anything longer is not a list of acr values. */
const MAX_ACR_VALUES_LENGTH = 512;

/**
 * Validates an authorization request (OAuth 2.1 §4.1.1, OIDC Core §3.1.2.1) in the order docs/security.md A3
 * requires: client and redirect URI first, with failures shown as a page; then everything else, with
 * failures sent back to the now trusted redirect URI.
 */
export async function readAuthorizationRequest(ctx: ServerContext, params: FormParams, source: RequestSource): Promise<AuthorizationRequest> {
  const { client, redirectUri } = await resolveClient(ctx, params);
  let state: string | undefined;
  try {
    state = params.get('state');
  } catch {
    // A repeated state: there is no single value to echo.
    state = undefined;
  }
  const target = { redirectUri, state };
  try {
    const proof = source === 'page' ? params.get(PAR_PROOF_PARAM) : undefined;
    const pushed = source === 'pushed' || proof !== undefined;
    const validated = await validateRest(ctx, client, params, pushed);
    const carried = carriedParams(params);
    // The pages carry a pushed request's parameters with the proof that the client pushed exactly these.
    if (proof !== undefined && !verifyPushedProof(ctx, carried, proof)) {
      throw new InvalidRequest('the pushed authorization request was changed or has expired: start again');
    }
    return { ...validated, client, redirectUri, state, pushed, params: proof !== undefined ? { ...carried, [PAR_PROOF_PARAM]: proof } : carried };
  } catch (err) {
    if (err instanceof OAuthError) throw new AuthorizationRedirectError(target, err);
    throw err;
  }
}

async function resolveClient(ctx: ServerContext, params: FormParams): Promise<{ client: Client; redirectUri: string }> {
  let clientId: string | undefined;
  let presented: string | undefined;
  try {
    clientId = params.get('client_id');
    presented = params.get('redirect_uri');
  } catch {
    throw new AuthorizationPageError('error.invalid.title', 'error.invalid.repeatsClient');
  }
  if (clientId === undefined) throw new AuthorizationPageError('error.invalid.title', 'error.invalid.noClientId');
  const client = await findClient(ctx, clientId).catch((err: unknown) => {
    // draft-ietf-oauth-client-id-metadata-document §5.1: when fetching the document fails, "the
    // authorization server SHOULD abort the authorization request": a page, never a redirect.
    if (!(err instanceof ClientMetadataError)) throw err;
    throw new AuthorizationPageError('error.clientUnavailable.title', 'error.clientUnavailable.text');
  });
  if (!client || !client.grantTypes.includes('authorization_code')) {
    throw new AuthorizationPageError('error.unknownClient.title', 'error.unknownClient.text');
  }
  // docs/security.md A1, A2, A4: exact match, else a page and never a redirect.
  const redirectUri = matchRedirectUri(client.redirectUris, presented, redirectUriRules(client.type));
  if (redirectUri === undefined) {
    throw new AuthorizationPageError(
      'error.redirect.title',
      presented === undefined
        ? 'error.redirect.missing'
        : 'error.redirect.unregistered',
    );
  }
  return { client, redirectUri };
}

async function validateRest(ctx: ServerContext, client: Client, params: FormParams, pushed: boolean) {
  // docs/security.md A8: a repeated parameter is invalid_request (FormParams.get throws for it).
  for (const name of AUTHORIZATION_PARAMS) if (!REPEATABLE_PARAMS.has(name)) params.get(name);
  // OIDC Core §6: request objects are not supported; nor is a request_uri other than one of a pushed
  // request, which comes alone (authorize/pushed-request.ts takes it before this).
  if (params.has('request')) throw new RequestNotSupported('request objects are not supported');
  const requestUri = params.get('request_uri');
  if (requestUri?.startsWith(REQUEST_URI_PREFIX)) {
    throw new InvalidRequest('the request_uri of a pushed authorization request takes no parameters besides client_id');
  }
  if (requestUri !== undefined) throw new RequestUriNotSupported('request_uri is not supported');
  // RFC 9126 §4: "Authorization server policy MAY dictate, either globally or on a per-client basis,
  // that PAR be the only means for a client to pass authorization request data. In this case, the
  // authorization server will refuse, using the invalid_request error code, to process any request to
  // the authorization endpoint that does not have a request_uri parameter with a value obtained from
  // the PAR endpoint."
  // FAPI 2.0 §5.3.2.2 item 3, for a `fapi2` client: "shall reject authorization requests sent without
  // [RFC9126]" (profiles/fapi2.ts).
  if (!pushed && (ctx.settings.requirePar || client.requirePushedAuthorizationRequests || isFapi2(client))) {
    throw new InvalidRequest('authorization requests must be pushed to the pushed authorization request endpoint first (RFC 9126)');
  }

  // docs/security.md A7 / OAuth 2.1 §10.1: only the code flow exists.
  const responseType = params.get('response_type');
  if (responseType === undefined) throw new InvalidRequest('the response_type parameter is required');
  if (responseType !== 'code') throw new UnsupportedResponseType('only response_type=code is supported');

  // Control characters (NUL above all, which PostgreSQL text cannot hold) have no place in these.
  for (const name of ['state', 'nonce', 'login_hint', 'acr_values', 'ui_locales'] as const) {
    if (/[\x00-\x1f\x7f]/.test(params.get(name) ?? '')) throw new InvalidRequest(`${name} must not contain control characters`);
  }
  const state = params.get('state');
  if (state !== undefined && state.length > MAX_STATE_LENGTH) throw new InvalidRequest('state is too long');

  // docs/security.md B18, B19: PKCE with S256 for every client.
  const pkce = checkPkceRequest(params.get('code_challenge'), params.get('code_challenge_method'));
  if (!pkce.ok) throw new InvalidRequest(pkce.reason);

  const resources = readResources(client, params);
  const scope = await readScope(ctx, client, params.get('scope'), resources);

  const nonce = params.get('nonce') ?? null;
  if (nonce !== null && nonce.length > MAX_NONCE_LENGTH) throw new InvalidRequest('nonce is too long');

  const prompt = readPrompt(params.get('prompt'));
  const maxAgeText = params.get('max_age');
  let maxAge: number | undefined;
  if (maxAgeText !== undefined) {
    if (!/^\d{1,9}$/.test(maxAgeText)) throw new InvalidRequest('max_age must be a non-negative number of seconds');
    maxAge = Number(maxAgeText);
  }
  // OIDC Core §3.1.2.1: "Space-separated string that specifies the acr values ... in order of preference".
  const acrText = params.get('acr_values') ?? '';
  if (acrText.length > MAX_ACR_VALUES_LENGTH) throw new InvalidRequest('acr_values is too long');
  const acrValues = [...new Set(acrText.split(' ').filter((v) => v !== ''))];
  const loginHint = params.get('login_hint')?.slice(0, MAX_LOGIN_HINT_LENGTH);
  // OIDC Core §3.1.2.1 ui_locales: "An error SHOULD NOT result if some or all of the requested locales
  // are not supported by the OpenID Provider": a language Latchkey lacks is passed over (i18n/languages.ts).
  const uiLocales = params.get('ui_locales')?.slice(0, MAX_UI_LOCALES_LENGTH);
  // RFC 9449 §10: "dpop_jkt: The value of the JWK SHA-256 Thumbprint ... of the proof-of-possession
  // public key": 32 bytes, base64url without padding (43 characters).
  const dpopJkt = params.get('dpop_jkt');
  if (dpopJkt !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(dpopJkt)) throw new InvalidRequest('dpop_jkt must be a JWK SHA-256 thumbprint');
  return { scope, resources, nonce, codeChallenge: pkce.challenge, prompt, maxAge, acrValues, loginHint, uiLocales, dpopJkt };
}

/**
 * RFC 8707 §2 `resource`: the APIs the code's tokens are for. Each is an absolute URI without a
 * fragment, and an API registered as one of the client's audiences; else invalid_target ("The
 * requested resource is invalid, missing, unknown, or malformed"), sent back to the client.
 */
function readResources(client: Client, params: FormParams): string[] {
  const resources = [...new Set(params.getAll('resource'))];
  const audiences = new Map(client.audiences.map((a) => [a.identifier, a]));
  for (const resource of resources) {
    // RFC 8707 §2: "Its value MUST be an absolute URI" and "The URI MUST NOT include a fragment component."
    if (!isResourceIndicator(resource)) throw new InvalidTarget('resource must be an absolute URI without a fragment');
    if (!audiences.has(resource)) throw new InvalidTarget('the client may not request tokens for this resource', resource.slice(0, 200));
  }
  // One token cannot be both self-contained (JWT) and a reference (opaque): refused now rather than
  // after the user has consented (grants/select-audience.ts refuses it at the token endpoint too).
  if (new Set(resources.map((r) => audiences.get(r)!.accessTokenFormat)).size > 1) {
    throw new InvalidTarget('the requested resources take different token formats: ask for them separately');
  }
  return resources;
}

/**
 * RFC 6749 §3.3 scope, each one allowed to the client; it must name openid or an API. With `resource`,
 * every API scope must belong to a named resource and every named resource must get a scope, so the
 * code's scopes and its resources describe the same APIs.
 */
async function readScope(ctx: ServerContext, client: Client, value: string | undefined, resources: string[]): Promise<string[]> {
  if (value === undefined) return defaultScopes(ctx, client, resources);
  const tokens = [...new Set(value.split(' ').filter((t) => t !== ''))];
  if (tokens.length === 0) throw new InvalidScope('scope is empty');
  const allowed = new Set([...client.oidcScopes, ...client.scopes.map((s) => s.scope)]);
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) throw new InvalidScope('scope contains invalid characters');
    if (!allowed.has(token)) throw new InvalidScope('a requested scope is unknown or not allowed to this client', token.slice(0, 200));
  }
  if (!tokens.includes('openid') && tokens.every((t) => OIDC_SCOPES.has(t))) {
    throw new InvalidScope('request openid or the scope of an API');
  }
  if (resources.length > 0) {
    const owner = new Map(client.scopes.map((s) => [s.scope, s.resource]));
    for (const token of tokens) {
      if (!OIDC_SCOPES.has(token) && !resources.includes(owner.get(token)!)) {
        throw new InvalidScope('a requested scope does not belong to the requested resource', token.slice(0, 200));
      }
    }
    if (resources.some((r) => !tokens.some((t) => owner.get(t) === r))) {
      throw new InvalidScope('request a scope of every requested resource, or leave scope out for their default scopes');
    }
  }
  return tokens;
}

/**
 * RFC 6749 §3.3: "If the client omits the scope parameter when requesting authorization, the
 * authorization server MUST either process the request using a pre-defined default value or fail the
 * request indicating an invalid scope." With `resource`, the default is each named resource's default
 * scopes (`resources create/update --default-scopes`) that the client may have; a resource without
 * any fails. Without `resource` the request fails: nothing says which of the client's APIs, or whether
 * OpenID Connect, it wants, and a guess would have the user consent to more than the client needs.
 */
async function defaultScopes(ctx: ServerContext, client: Client, resources: string[]): Promise<string[]> {
  if (resources.length === 0) throw new InvalidScope('the scope parameter is required');
  const allowed = new Set(client.scopes.map((s) => s.scope));
  const scopes: string[] = [];
  for (const identifier of resources) {
    const resource = await ctx.storage.resources.findByIdentifier(identifier);
    const defaults = (resource?.scopes ?? []).filter((s) => s.isDefault && allowed.has(s.scope)).map((s) => s.scope);
    if (defaults.length === 0) {
      throw new InvalidScope('no scope was requested and the resource has no default scope for this client', identifier.slice(0, 200));
    }
    scopes.push(...defaults);
  }
  return scopes;
}

/** OIDC Core §3.1.2.1 prompt: none, login, consent (space-separated); none goes alone. */
function readPrompt(value: string | undefined): ReadonlySet<Prompt> {
  const prompt = new Set<Prompt>();
  if (value === undefined) return prompt;
  for (const p of value.split(' ').filter((t) => t !== '')) {
    if (p !== 'none' && p !== 'login' && p !== 'consent') throw new InvalidRequest('prompt must be none, login or consent');
    prompt.add(p);
  }
  if (prompt.has('none') && prompt.size > 1) throw new InvalidRequest('prompt=none cannot be combined with other values');
  return prompt;
}

function carriedParams(params: FormParams): Record<string, string | string[]> {
  const carried: Record<string, string | string[]> = {};
  for (const name of AUTHORIZATION_PARAMS) {
    if (REPEATABLE_PARAMS.has(name)) {
      const values = params.getAll(name);
      if (values.length > 0) carried[name] = values;
      continue;
    }
    const value = params.get(name);
    if (value !== undefined) carried[name] = value;
  }
  return carried;
}
