import assert from 'node:assert/strict';
import type { FormBrowser, Page } from '../helpers/form-browser.ts';
import { PASSWORD } from '../helpers/user-flow.ts';

/**
 * The user's side of a code flow whose authorization URL a client library built: follows Latchkey's
 * redirects, fills in the login page, presses Allow on the consent page (each only when shown), and
 * returns the URL the browser is finally sent to outside the issuer (the client's redirect URI with
 * `code`, `state` and `iss`), untouched, for the library's callback handling.
 */
export async function driveAuthorization(
  browser: FormBrowser,
  issuer: string,
  authorizationUrl: URL,
  user: { username: string; password?: string } = { username: 'alice' },
): Promise<URL> {
  let page: Page = await browser.get(authorizationUrl.href);
  for (let step = 0; step < 10; step++) {
    if ((page.status === 302 || page.status === 303) && page.location !== undefined) {
      if (!page.location.startsWith(`${issuer}/`)) return new URL(page.location);
      page = await browser.get(page.location);
      continue;
    }
    assert.equal(page.status, 200, `unexpected ${page.status} at ${page.url}: ${page.text.slice(0, 300)}`);
    const [form] = browser.forms(page.text, page.url);
    assert.ok(form, `no form at ${page.url}`);
    page = new URL(page.url).pathname.endsWith('/login')
      ? await browser.submit(page, form, { values: { username: user.username, password: user.password ?? PASSWORD } })
      : await browser.submit(page, form, { button: { name: 'decision', value: 'allow' } });
  }
  throw new Error(`the authorization at ${authorizationUrl.href} did not end in a redirect to the client`);
}
