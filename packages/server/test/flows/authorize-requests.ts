import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { type FormBrowser, type Page, REDIRECT_URI } from '@latchkey/testing';

/**
 * Authorization requests with repeated parameters (RFC 8707 `resource`), for the suites of resource
 * indicators, localhost redirect URIs and unverified clients.
 */

/** A parameter's value: undefined leaves it out, an array repeats it. */
export type ParamValue = string | string[] | undefined;

/** The URL of an authorization request: a valid code request with PKCE, with `over` applied. */
export function authorizationUrl(issuer: string, clientId: string, challenge: string, over: Record<string, ParamValue> = {}): string {
  const all: Record<string, ParamValue> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid orders:read',
    state: 'state-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...over,
  };
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(all)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, v);
  }
  return `${issuer}/authorize?${params.toString()}`;
}

/** Follows the issuer's own redirects from `url` until a page (login or consent) or a redirect elsewhere. */
export async function firstStop(browser: FormBrowser, issuer: string, url: string): Promise<Page> {
  let page = await browser.get(url);
  while (page.status === 303 && page.location?.startsWith(`${issuer}/`)) page = await browser.get(page.location);
  return page;
}

/** RFC 6749 §4.1.2.1: a 303 back to the redirect URI with `error`, the state as sent and RFC 9207's `iss`. */
export function expectRedirectError(page: Page, issuer: string, error: string, redirectUri = REDIRECT_URI): URL {
  const why = `${page.status} ${page.location ?? page.text.slice(0, 300)}`;
  assert.equal(page.status, 303, why);
  assert.ok(page.location, why);
  const url = new URL(page.location);
  assert.equal(`${url.origin}${url.pathname}`, redirectUri, why);
  assert.equal(url.searchParams.get('error'), error, `${why}: ${url.searchParams.get('error_description')}`);
  assert.equal(url.searchParams.get('code'), null);
  assert.deepEqual(url.searchParams.getAll('state'), ['state-1'], why);
  assert.deepEqual(url.searchParams.getAll('iss'), [issuer], why);
  return url;
}

/** The code of a successful redirect back to the client. */
export function codeOf(callback: URL, issuer: string, redirectUri = REDIRECT_URI): string {
  assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);
  assert.equal(callback.searchParams.get('error'), null, `error ${callback.searchParams.get('error')}: ${callback.searchParams.get('error_description')}`);
  assert.deepEqual(callback.searchParams.getAll('iss'), [issuer]);
  const code = callback.searchParams.get('code');
  assert.ok(code, `no code in ${callback}`);
  return code;
}

/** `aud` of a JWT access token, always as a list. */
export function audienceOf(accessToken: string): string[] {
  const { aud } = decodeJwt(accessToken);
  return typeof aud === 'string' ? [aud] : (aud ?? []);
}
