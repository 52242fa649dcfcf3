import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * CSRF tokens for the forms of the login, consent and device pages (RFC 6749 §10.12): an HMAC of the
 * browser's binding (the SSO session, or before login the login transaction cookie) under a key the
 * nodes share, so any node can check a token another node printed, and nothing is stored.
 */
export function deriveMacKey(secret: string): Buffer {
  // HKDF (RFC 5869) separates this key from every other use of LATCHKEY_SECRET. The info string is
  // the one this key had when it served CSRF tokens alone, so tokens in open forms stay valid.
  return Buffer.from(hkdfSync('sha256', secret, 'latchkey', 'latchkey/csrf/v1', 32));
}

export function csrfToken(key: Buffer, binding: string): string {
  return createHmac('sha256', key).update(`csrf\u0000${binding}`).digest('base64url');
}

/** Constant-time check of a submitted token against the binding it must belong to. */
export function verifyCsrfToken(key: Buffer, binding: string, submitted: string | undefined): boolean {
  if (!submitted || !binding) return false;
  const expected = Buffer.from(csrfToken(key, binding));
  const actual = Buffer.from(submitted);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * Proof that the browser logged in for this very authorization request: an HMAC of the new session
 * (a fresh value at every login) and the request's parameters. The consent page asks for it when the
 * request wants a fresh login (`prompt=login`, `max_age`), so going straight to /consent with an older
 * session does not skip the login.
 */
export function loginProof(key: Buffer, sessionValue: string, params: Record<string, string | readonly string[]>): string {
  const canonical = JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]));
  return csrfToken(key, `login-proof\u0000${sessionValue}\u0000${canonical}`);
}

export function verifyLoginProof(
  key: Buffer,
  sessionValue: string,
  params: Record<string, string | readonly string[]>,
  submitted: string | undefined,
): boolean {
  if (!submitted) return false;
  const expected = Buffer.from(loginProof(key, sessionValue, params));
  const actual = Buffer.from(submitted);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
