import { importJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import type { ServerContext } from '../context.ts';
import { fetchGuarded, OutboundFetchError } from '../lib/outbound-fetch.ts';
import { open, seal } from '../lib/sealed-box.ts';
import type { UpstreamProvider } from './providers.ts';

/**
 * Latchkey as the relying party of an upstream OpenID provider (OIDC Core §3.1, the code flow). The
 * protocol checks are `oauth4webapi`'s: PKCE (RFC 7636, S256), `state`, `iss` in the response (RFC
 * 9207, when the provider supports it), the ID token (issuer, audience, expiry, `nonce`). Every request
 * goes through the one outbound fetcher with the SSRF guard (lib/outbound-fetch.ts). What the browser
 * carries between the two legs (state, nonce, code verifier, the authorization request it came from)
 * is sealed in a cookie; the state is single use through the replay store.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** How long the user may take at the provider. */
export const UPSTREAM_LOGIN_SECONDS = 10 * 60;

export class UpstreamLoginError extends Error {}

/** What is sealed in the cookie between the redirect to the provider and the callback. */
interface Transaction {
  provider: string;
  state: string;
  nonce: string;
  verifier: string;
  /** The authorization request's parameters, to go on with after the callback. */
  params: Record<string, string | string[]>;
  expiresAt: number;
}

const SEAL_PURPOSE = 'upstream-login';
const sealKey = (ctx: ServerContext) => ctx.macKey.toString('base64url');

/** oauth4webapi's fetch, through the SSRF guard: the provider's URLs are the operator's, not ours. */
function guardedFetch(ctx: ServerContext): (url: string, options: oauth.CustomFetchOptions<string, unknown>) => Promise<Response> {
  return async (url, options) => {
    try {
      const answer = await fetchGuarded(url, {
        allowLoopback: ctx.settings.allowLoopbackUpstream,
        loopbackSetting: 'LATCHKEY_ALLOW_LOOPBACK_UPSTREAM',
        timeoutMs: 10_000,
        maxBytes: 256 * 1024,
        accept: (options.headers as Record<string, string>)['accept'] ?? 'application/json',
        what: 'the upstream provider',
        caFile: ctx.settings.outboundCaFile,
        anyStatus: true,
        ...(options.method === 'POST' ? { post: { body: bodyText(options.body), headers: options.headers as Record<string, string> } } : {}),
      });
      const headers = new Headers();
      for (const [name, value] of Object.entries(answer.headers)) {
        if (typeof value === 'string') headers.set(name, value);
        else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      }
      return new Response(answer.body.length > 0 ? new Uint8Array(answer.body) : null, { status: answer.status, headers });
    } catch (err) {
      throw err instanceof OutboundFetchError ? new UpstreamLoginError(err.message) : err;
    }
  };
}

/** A request body as oauth4webapi gives it (form parameters for the token endpoint), as text. */
function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  return '';
}

const requestOptions = (ctx: ServerContext) => ({
  [oauth.customFetch]: guardedFetch(ctx),
  ...(ctx.settings.allowLoopbackUpstream ? { [oauth.allowInsecureRequests]: true } : {}),
});

/** Discovery documents are kept this long per node (a provider's endpoints rarely move). */
const METADATA_CACHE_MS = 5 * 60 * 1000;
const metadataCache = new Map<string, { as: oauth.AuthorizationServer; until: number }>();

/** The provider's metadata (OIDC Discovery), checked by oauth4webapi against its issuer; cached a few minutes. */
async function metadataOf(ctx: ServerContext, provider: UpstreamProvider): Promise<oauth.AuthorizationServer> {
  const cached = metadataCache.get(provider.issuer);
  if (cached && cached.until > Date.now()) return cached.as;
  const issuer = new URL(provider.issuer);
  try {
    const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions(ctx) });
    const as = await oauth.processDiscoveryResponse(issuer, response);
    metadataCache.set(provider.issuer, { as, until: Date.now() + METADATA_CACHE_MS });
    return as;
  } catch (err) {
    throw new UpstreamLoginError(`the discovery of ${provider.issuer} failed: ${(err as Error).message}`);
  }
}

/** The redirect URI registered at every provider. */
export const callbackUrl = (ctx: ServerContext) => `${ctx.settings.issuer}/login/upstream/callback`;

/** Starts a sign-in at `provider`: the URL to send the browser to, and the sealed cookie value. */
export async function startUpstreamLogin(ctx: ServerContext, provider: UpstreamProvider, params: Record<string, string | string[]>): Promise<{ url: string; cookie: string }> {
  const as = await metadataOf(ctx, provider);
  if (!as.authorization_endpoint) throw new UpstreamLoginError(`${provider.issuer} has no authorization endpoint`);
  const verifier = oauth.generateRandomCodeVerifier();
  const transaction: Transaction = {
    provider: provider.id,
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    verifier,
    params,
    expiresAt: ctx.now() + UPSTREAM_LOGIN_SECONDS,
  };
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', provider.clientId);
  url.searchParams.set('redirect_uri', callbackUrl(ctx));
  url.searchParams.set('scope', provider.scopes.join(' '));
  url.searchParams.set('state', transaction.state);
  url.searchParams.set('nonce', transaction.nonce);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  return { url: url.href, cookie: seal(sealKey(ctx), SEAL_PURPOSE, JSON.stringify(transaction)) };
}

/** The claims of the upstream ID token that Latchkey uses. */
export interface UpstreamIdentity {
  provider: UpstreamProvider;
  subject: string;
  email?: string;
  emailVerified: boolean;
  name?: string;
  preferredUsername?: string;
  /** The authorization request to go on with. */
  params: Record<string, string | string[]>;
}

/**
 * Finishes a sign-in at the callback: the sealed transaction must be this browser's, live and unused;
 * oauth4webapi checks the response (state, iss, error), redeems the code with the verifier and the
 * client's credentials, and validates the ID token with the nonce.
 */
export async function finishUpstreamLogin(ctx: ServerContext, sealed: string | undefined, currentUrl: URL, providers: (id: string) => Promise<UpstreamProvider | undefined>): Promise<UpstreamIdentity> {
  const plain = sealed ? open(sealKey(ctx), SEAL_PURPOSE, sealed) : undefined;
  if (!plain) throw new UpstreamLoginError('no sign-in at a provider is under way in this browser');
  const transaction = JSON.parse(plain) as Transaction;
  if (transaction.expiresAt <= ctx.now()) throw new UpstreamLoginError('the sign-in at the provider took too long');
  // A callback of another transaction goes no further (no outbound request for it); oauth4webapi
  // checks the state again below.
  if (currentUrl.searchParams.get('state') !== transaction.state) throw new UpstreamLoginError('the state is not this browser\'s');
  const provider = await providers(transaction.provider);
  if (!provider) throw new UpstreamLoginError('the provider is no longer registered');
  const as = await metadataOf(ctx, provider);
  const client: oauth.Client = { client_id: provider.clientId };
  const auth = provider.privateJwk
    ? oauth.PrivateKeyJwt({ key: (await importJWK(provider.privateJwk, 'ES256')) as unknown as oauth.PrivateKey['key'], kid: provider.privateJwk.kid! })
    : provider.clientSecret
      ? oauth.ClientSecretBasic(provider.clientSecret)
      : oauth.None();
  let identity: oauth.IDToken;
  try {
    const callbackParams = oauth.validateAuthResponse(as, client, currentUrl, transaction.state);
    // The state is spent: the same callback cannot be completed twice, on any node.
    if (!(await ctx.storage.replays.use('upstream_state', transaction.state, transaction.expiresAt))) throw new UpstreamLoginError('this sign-in was completed already');
    const response = await oauth.authorizationCodeGrantRequest(as, client, auth, callbackParams, callbackUrl(ctx), transaction.verifier, requestOptions(ctx));
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: transaction.nonce, requireIdToken: true });
    identity = oauth.getValidatedIdTokenClaims(result)!;
  } catch (err) {
    if (err instanceof UpstreamLoginError) throw err;
    // An OAuth error from the provider (oauth4webapi's ResponseBodyError / AuthorizationResponseError) names its code.
    const oauthError = err as { error?: unknown; error_description?: unknown };
    const detail = typeof oauthError.error === 'string' ? ` (${oauthError.error}${typeof oauthError.error_description === 'string' ? `: ${oauthError.error_description}` : ''})` : '';
    throw new UpstreamLoginError(`the provider's answer was refused: ${(err as Error).message}${detail}`);
  }
  // Claims are the provider's words: control characters or oversized values are not taken (a NUL
  // cannot even be stored in PostgreSQL).
  const text = (value: unknown, max: number) => (typeof value === 'string' && value.length > 0 && value.length <= max && !CONTROL.test(value) ? value : undefined);
  if (identity.sub.length > 255 || CONTROL.test(identity.sub)) throw new UpstreamLoginError('the provider\'s sub is longer than 255 characters or has control characters');
  const email = text(identity.email, 320);
  const name = text(identity.name, 200);
  const preferredUsername = text(identity.preferred_username, 200);
  return {
    provider,
    subject: identity.sub,
    ...(email ? { email } : {}),
    emailVerified: identity.email_verified === true,
    ...(name ? { name } : {}),
    ...(preferredUsername ? { preferredUsername } : {}),
    params: transaction.params,
  };
}
