import { type FormBrowser, walkAuthorization } from '@latchkey/testing';

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
  return (await walkAuthorization(browser, issuer, authorizationUrl.href, user)).callback;
}
