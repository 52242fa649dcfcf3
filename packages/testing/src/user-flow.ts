import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { UserRegistry } from '@latchkey/server';
import { FormBrowser, type Page } from './form-browser.ts';
import { postForm, type RunningServer } from './server.ts';

/** The API, clients and user of the browser-flow suites. */
export interface UserFlowSeed {
  api: string;
  /** A public client (PKCE, no secret) with openid, profile, email, offline_access and the API scopes. */
  publicClient: string;
  /** A confidential client with the same scopes and a secret. */
  confidential: { clientId: string; clientSecret: string };
  redirectUri: string;
  user: { id: string; username: string; password: string };
}

export const REDIRECT_URI = 'https://app.example/callback';
export const PASSWORD = 'correct horse battery staple';

export async function seedUserFlow(
  running: RunningServer,
  options: { username?: string; accessTokenFormat?: 'jwt' | 'opaque' } = {},
): Promise<UserFlowSeed> {
  const api = 'https://api.example.com';
  await running.registry.createResource({
    identifier: api,
    name: 'Orders API',
    ...(options.accessTokenFormat ? { accessTokenFormat: options.accessTokenFormat } : {}),
    scopes: [
      { scope: 'orders:read', description: 'Read your orders' },
      { scope: 'orders:write', description: 'Place orders for you' },
    ],
  });
  const scopes = ['openid', 'profile', 'email', 'offline_access', 'orders:read', 'orders:write'];
  const publicClient = await running.registry.createClient({
    name: 'Demo Shop',
    type: 'public',
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes,
    redirectUris: [REDIRECT_URI, 'http://127.0.0.1/cb'],
    postLogoutRedirectUris: ['https://app.example/bye'],
  });
  const confidential = await running.registry.createClient({
    name: 'Back Office',
    type: 'confidential',
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes,
    redirectUris: [REDIRECT_URI],
  });
  const username = options.username ?? 'alice';
  const user = await new UserRegistry(running.server.context.storage).create({
    username,
    password: PASSWORD,
    email: `${username}@example.com`,
    name: 'Alice Liddell',
  });
  return {
    api,
    publicClient: publicClient.client.clientId,
    confidential: { clientId: confidential.client.clientId, clientSecret: confidential.clientSecret! },
    redirectUri: REDIRECT_URI,
    user: { id: user.id, username, password: PASSWORD },
  };
}

/** A PKCE pair (RFC 7636 §4.1, §4.2). */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface AuthorizeOptions {
  clientId: string;
  scope?: string;
  redirectUri?: string;
  state?: string;
  nonce?: string;
  extra?: Record<string, string>;
  username?: string;
  password?: string;
  /** What to press on the consent page if it is shown. */
  decision?: 'allow' | 'deny';
  /** The code to give when the second step asks for one (a user with an authenticator app). */
  otp?: () => string | Promise<string>;
}

export interface AuthorizeResult {
  /** The redirect back to the client, parsed. */
  callback: URL;
  verifier: string;
  /** Whether the login page and the consent page were shown. */
  sawLogin: boolean;
  sawConsent: boolean;
  consentPage?: Page;
}

export function authorizeUrl(running: RunningServer, options: AuthorizeOptions, challenge: string): string {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: options.clientId,
    redirect_uri: options.redirectUri ?? REDIRECT_URI,
    scope: options.scope ?? 'openid profile email offline_access orders:read',
    state: options.state ?? 'state-123',
    nonce: options.nonce ?? 'nonce-456',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...options.extra,
  });
  return `${running.issuer}/authorize?${params.toString()}`;
}

/** What walking the pages found. */
export interface WalkResult {
  /** The URL the browser was finally sent to outside the issuer (the client's redirect URI). */
  callback: URL;
  sawLogin: boolean;
  sawConsent: boolean;
  consentPage?: Page;
}

/**
 * The user's side of a code flow, from any authorization URL (built here or by a client library):
 * follows Latchkey's redirects, fills in the login form and answers the consent form (each only when
 * shown), until the browser is sent outside the issuer, to the client.
 */
export async function walkAuthorization(
  browser: FormBrowser,
  issuer: string,
  url: string,
  options: { username?: string; password?: string; decision?: 'allow' | 'deny'; otp?: () => string | Promise<string> } = {},
): Promise<WalkResult> {
  let page = await browser.get(url);
  let sawLogin = false;
  let sawConsent = false;
  let consentPage: Page | undefined;
  for (let step = 0; step < 10; step++) {
    if ((page.status === 302 || page.status === 303) && page.location !== undefined) {
      if (!page.location.startsWith(`${issuer}/`)) {
        return { callback: new URL(page.location), sawLogin, sawConsent, ...(consentPage ? { consentPage } : {}) };
      }
      page = await browser.get(page.location);
      continue;
    }
    assert.equal(page.status, 200, `unexpected ${page.status} at ${page.url}: ${page.text.slice(0, 300)}`);
    const [form] = browser.forms(page.text, page.url);
    assert.ok(form, `no form at ${page.url}`);
    if (new URL(page.url).pathname.endsWith('/login/otp')) {
      // The second step of a user with an authenticator app: the code the test computes.
      assert.ok(options.otp, `a one-time code was asked for at ${page.url}, and the test gave none`);
      page = await browser.submit(page, form, { values: { code: await options.otp() } });
    } else if (new URL(page.url).pathname.endsWith('/login')) {
      sawLogin = true;
      page = await browser.submit(page, form, {
        values: { username: options.username ?? 'alice', password: options.password ?? PASSWORD },
      });
    } else {
      sawConsent = true;
      consentPage = page;
      page = await browser.submit(page, form, { button: { name: 'decision', value: options.decision ?? 'allow' } });
    }
  }
  throw new Error(`the authorization at ${url} did not end in a redirect to the client`);
}

/**
 * Runs the browser side of the code flow with a cookie-jar browser: /authorize, the login form when
 * shown, the consent form when shown, until the redirect back to the client.
 */
export async function runAuthorization(browser: FormBrowser, running: RunningServer, options: AuthorizeOptions): Promise<AuthorizeResult> {
  const { verifier, challenge } = pkcePair();
  const walked = await walkAuthorization(browser, running.issuer, authorizeUrl(running, options, challenge), options);
  return { ...walked, verifier };
}

/** Exchanges a code at the token endpoint as a public client (or with a secret). */
export async function exchangeCode(
  running: RunningServer,
  input: { clientId: string; code: string; verifier: string; redirectUri?: string; secret?: string },
) {
  const form: Record<string, string> = {
    grant_type: 'authorization_code',
    code: input.code,
    code_verifier: input.verifier,
    redirect_uri: input.redirectUri ?? REDIRECT_URI,
  };
  if (input.secret) return postForm(`${running.issuer}/token`, form, { basic: [input.clientId, input.secret] });
  return postForm(`${running.issuer}/token`, { ...form, client_id: input.clientId });
}

/** Logs in, consents and exchanges the code: the tokens of a complete flow. */
export async function completeFlow(browser: FormBrowser, running: RunningServer, options: AuthorizeOptions) {
  const result = await runAuthorization(browser, running, options);
  const code = result.callback.searchParams.get('code');
  assert.ok(code, `no code in ${result.callback}`);
  const res = await exchangeCode(running, {
    clientId: options.clientId,
    code,
    verifier: result.verifier,
    ...(options.redirectUri ? { redirectUri: options.redirectUri } : {}),
  });
  assert.equal(res.status, 200, res.text);
  return { ...result, code, tokens: res.body as { access_token: string; refresh_token?: string; id_token?: string; scope: string; expires_in: number } };
}

/**
 * The browser's part of the code flow from an authorization URL a client built (an SDK, an example):
 * the login form, the consent form (Allow or Deny), until the redirect back to the client. Returns that
 * redirect's URL.
 */
export async function authorizeInBrowser(
  browser: FormBrowser,
  issuer: string,
  url: string,
  options: { decision?: 'allow' | 'deny'; username?: string } = {},
): Promise<string> {
  return (await walkAuthorization(browser, issuer, url, options)).callback.href;
}
