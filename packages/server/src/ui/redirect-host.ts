/**
 * How the consent page names where an unverified application sends the browser back: the redirect
 * URI's host as the URL parser reads it (lower case, an international name in its xn-- form, so look-alike
 * letters cannot pass for another site), with the port when it has one; for a native app's private-use
 * scheme (RFC 8252 §7.1, `com.example.app:/cb`), the scheme, which names the app.
 */
export function redirectHost(redirectUri: string): string {
  const url = new URL(redirectUri);
  if (url.host !== '') return url.host;
  return url.protocol.slice(0, -1);
}
