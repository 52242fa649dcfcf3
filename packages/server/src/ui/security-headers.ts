/**
 * Headers of every HTML page (login, consent, device, error). No script at all, styles only from our
 * own origin, never framed (RFC 6749 §10.13, RFC 9700 §4.16: clickjacking), never cached, and no
 * Referer leaking the authorization request to other sites.
 */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': pageCsp(),
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});

/**
 * The pages' Content-Security-Policy. A page with a passkey form runs one script, Latchkey's own
 * (ui/passkey-script.ts), allowed by the page's nonce (CSP Level 3 §6.7.2.3: a nonce of at least 128
 * random bits, new for every response); without a nonce no script runs at all.
 */
export function pageCsp(scriptNonce?: string): string {
  const script = scriptNonce ? `; script-src 'nonce-${scriptNonce}'` : '';
  return `default-src 'none'${script}; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'`;
}

/** The page headers for a page that runs the passkey script under `scriptNonce`. */
export function pageHeadersWithScript(scriptNonce: string): Record<string, string> {
  return { ...PAGE_SECURITY_HEADERS, 'content-security-policy': pageCsp(scriptNonce) };
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
