/**
 * Redirect URIs: what registration accepts and how the authorization endpoint matches them. The rules
 * are strict on purpose, because every loose rule elsewhere became an open redirect (docs/security.md A and
 * its regressions): exact string matching, canonical form only, no userinfo, no fragments, no
 * dangerous schemes, and a varying port only for loopback IP literals (and `localhost`, for public
 * clients only: see RedirectUriRules).
 */

import type { ClientType } from './types.ts';

/** Longest redirect URI accepted. */
export const MAX_REDIRECT_URI_LENGTH = 2000;

/** Schemes that run code or read local data in a browser: never a redirect target, in any case. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:', 'ws:', 'wss:', 'ftp:']);

/** RFC 8252 §7.3 loopback IP literals, on which http is allowed and the port may vary. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

export type RedirectUriCheck = { ok: true } | { ok: false; reason: string };

/** What a client may register beyond the rules every client follows. */
export interface RedirectUriRules {
  /**
   * `http://localhost:PORT/path`, matched on any port like the loopback IP literals. RFC 8252 §8.3
   * calls localhost "NOT RECOMMENDED" (a name can resolve to another interface than loopback) but
   * does not forbid it, and the MCP authorization specification has native clients (IDEs, command
   * line tools) register it. Allowed only for public clients (redirectUriRules): a confidential
   * client is a server and has no business receiving codes on the user's machine.
   */
  allowLocalhost?: boolean;
}

/** The rules for a client of this type: `localhost` only for public clients. */
export function redirectUriRules(clientType: ClientType): RedirectUriRules {
  return { allowLocalhost: clientType === 'public' };
}

/** Whether `uri` may be registered as a redirect URI; the reason when not. */
export function checkRedirectUriForRegistration(uri: string, rules: RedirectUriRules = {}): RedirectUriCheck {
  const fail = (reason: string): RedirectUriCheck => ({ ok: false, reason });
  if (uri.length === 0 || uri.length > MAX_REDIRECT_URI_LENGTH) return fail(`must be 1-${MAX_REDIRECT_URI_LENGTH} characters`);
  // Whitespace, controls and backslashes are read differently by different URL parsers.
  if (/[\s\x00-\x1f\x7f\\]/.test(uri)) return fail('must not contain spaces, control characters or backslashes');
  // RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."
  if (uri.includes('#')) return fail('must not contain a fragment (#)');
  if (uri.includes('*')) return fail('wildcards are not supported: register every URI exactly');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return fail('must be an absolute URI');
  }
  const scheme = url.protocol.toLowerCase();
  // RFC 9700 §2.6 / §4.1: javascript:, data: and friends are refused in any letter case.
  if (FORBIDDEN_SCHEMES.has(scheme)) return fail(`the ${scheme} scheme is not allowed`);
  const authority = authorityOf(uri);
  if (authority !== undefined && authority.includes('@')) return fail('must not contain userinfo (user@host)');
  if (url.username || url.password) return fail('must not contain userinfo (user@host)');
  if (/(^|\/)\.\.?(;[^/]*)?(\/|$)/.test(pathOf(uri))) return fail('must not contain . or .. path segments');

  if (scheme === 'https:') {
    // fall through to the canonical-form check
  } else if (scheme === 'http:') {
    // RFC 8252 §8.3: plain http only for loopback IP literals; "localhost" is NOT RECOMMENDED, and a
    // name can be made to resolve elsewhere, so only public clients may have it (RedirectUriRules).
    if (url.hostname === 'localhost') {
      if (!rules.allowLocalhost) return fail('use http://127.0.0.1 or http://[::1] instead of localhost (RFC 8252 §8.3; localhost is for public clients only)');
    } else if (!LOOPBACK_HOSTS.has(url.hostname)) {
      return fail('http is only allowed for 127.0.0.1 and [::1]; use https');
    }
  } else {
    // RFC 8252 §7.1: a private-use scheme of a native app is a reverse domain name it controls.
    if (!/^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(scheme)) {
      return fail('a private-use scheme must be a reverse domain name, such as com.example.app');
    }
    if (url.host !== '') return fail('a private-use scheme URI has no host: com.example.app:/callback');
  }
  // One spelling only: a URI that a parser would rewrite (case, default port, dot segments, escapes)
  // is refused, so matching by string cannot disagree with how a browser follows it.
  const canonical = url.href;
  if (uri !== canonical && !(url.pathname === '/' && uri + '/' === canonical)) {
    return fail(`must be written in canonical form: ${canonical}`);
  }
  return { ok: true };
}

/**
 * The registered URI that `presented` selects, or undefined. RFC 9700 §4.1.3 / OAuth 2.1 §4.1.1:
 * exact string comparison, except that the port of a loopback IP literal may vary (RFC 8252 §7.3:
 * "The authorization server MUST allow any port to be specified at the time of the request for
 * loopback IP redirect URIs"), and so may that of `localhost` when `rules` allow it (RFC 8252 §8.3:
 * localhost URIs "function similarly to loopback IP redirects"); path and query must still match
 * exactly. Without `presented`, the only registered URI, if there is exactly one (OAuth 2.1 §4.1.1).
 */
export function matchRedirectUri(registered: readonly string[], presented: string | undefined, rules: RedirectUriRules = {}): string | undefined {
  if (presented === undefined) return registered.length === 1 ? registered[0] : undefined;
  if (registered.includes(presented)) return presented;
  if (!checkRedirectUriForRegistration(presented, rules).ok) return undefined;
  const url = new URL(presented);
  const portMayVary = LOOPBACK_HOSTS.has(url.hostname) || (rules.allowLocalhost === true && url.hostname === 'localhost');
  if (url.protocol !== 'http:' || !portMayVary) return undefined;
  for (const candidate of registered) {
    const c = new URL(candidate);
    if (c.protocol === 'http:' && c.hostname === url.hostname && c.pathname === url.pathname && c.search === url.search) {
      return presented;
    }
  }
  return undefined;
}

/** The raw authority of a hierarchical URI (between "//" and the next "/", "?" or end), if any. */
function authorityOf(uri: string): string | undefined {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?]*)/.exec(uri);
  return match?.[1];
}

/** The raw path of a URI, before any query. */
function pathOf(uri: string): string {
  const withoutQuery = uri.split('?')[0] ?? '';
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(withoutQuery);
  if (authority) return withoutQuery.slice(authority[0].length);
  return withoutQuery.replace(/^[A-Za-z][A-Za-z0-9+.-]*:/, '');
}
