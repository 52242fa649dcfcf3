/**
 * Request paths, read the way an upstream will read them. A path the gateway matched against one
 * route but an upstream resolves to another (`/public/../admin`, `/%2e%2e/admin`, `/%61dmin`,
 * `/public;/../admin`, `/public%2Fadmin`) would let a caller reach a route with another route's
 * scopes, so such paths are normalised or refused before any route is chosen.
 */

export type Target = { path: string; query: string } | { error: string };

/** RFC 3986 §2.3: unreserved characters; percent-encoded they mean the same (§6.2.2.2) and are decoded. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The path (normalised) and the query (as received, with its `?`) of an origin-form request target
 * (RFC 9112 §3.2.1), or why it is refused:
 * - percent-encoded unreserved characters are decoded, other escapes upper-cased (RFC 3986 §6.2.2);
 * - an encoded `/` or `\`, an encoded control character, a raw `\` are refused (upstreams differ on them);
 * - `.` and `..` segments are refused, not resolved; `;` path parameters are refused (upstreams drop them);
 * - empty segments (`//`) are refused: some upstreams merge them.
 */
export function parseTarget(target: string): Target {
  if (!target.startsWith('/')) return { error: 'the request target must be an absolute path' };
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  if (rawPath.includes('\\') || rawPath.includes('#')) return { error: 'the path contains a backslash or #' };
  let path = '';
  for (let i = 0; i < rawPath.length; i++) {
    const char = rawPath[i]!;
    if (char !== '%') {
      path += char;
      continue;
    }
    const hex = rawPath.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { error: 'the path has a malformed percent-encoding' };
    const code = Number.parseInt(hex, 16);
    if (code === 0x2f || code === 0x5c) return { error: 'the path has an encoded slash or backslash' };
    if (code < 0x20 || code === 0x7f) return { error: 'the path has an encoded control character' };
    const decoded = String.fromCharCode(code);
    path += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
    i += 2;
  }
  // RFC 3986 §3.3 path parameters (`/admin;x/users`): Tomcat, Jetty and Spring drop them before
  // routing, so `/api/admin;x` would reach the upstream's /api/admin under the /api route's rules.
  // Refused, raw or encoded.
  if (path.includes(';') || path.includes('%3B')) return { error: 'the path has a ; parameter' };
  const segments = path.split('/').slice(1);
  for (const [index, segment] of segments.entries()) {
    if (segment === '' && index < segments.length - 1) return { error: 'the path has an empty segment' };
    if (segment === '.' || segment === '..') return { error: 'the path has a dot segment' };
  }
  return { path, query };
}

/** Why a configured prefix is unusable, or undefined. */
export function checkPrefix(prefix: string): string | undefined {
  if (!prefix.startsWith('/')) return 'must start with /';
  if (prefix.includes('?')) return 'must not contain ?';
  const trimmed = prefix.length > 1 ? prefix.replace(/\/+$/, '') : prefix;
  const parsed = parseTarget(trimmed);
  if ('error' in parsed) return parsed.error.replace('the path', 'the prefix');
  if (parsed.path !== trimmed) return `must be written in normal form: ${parsed.path}`;
  return undefined;
}

/** Whether `path` is under `prefix`, on whole segments. */
export function underPrefix(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}
