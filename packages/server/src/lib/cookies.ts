/** The value of cookie `name` in a Cookie header (RFC 6265 §5.4), or undefined. The first one wins. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A Set-Cookie header for the pages' own cookies: HttpOnly, SameSite=Lax (or Strict for a cookie only
 * the server's own forms need), Path=/, and Secure with the `__Host-` prefix when the issuer is https
 * (the caller passes the prefixed name).
 */
export function cookieHeader(name: string, value: string, secure: boolean, maxAgeSeconds: number, sameSite: 'Lax' | 'Strict' = 'Lax'): string {
  const attributes = [`${name}=${value}`, 'Path=/', 'HttpOnly', `SameSite=${sameSite}`, `Max-Age=${maxAgeSeconds}`];
  if (secure) attributes.push('Secure');
  return attributes.join('; ');
}
