/**
 * The headers an upstream receives. Identity is what the gateway says it is, never what the client
 * says (docs/security.md K76, RFC 9700 §4.13): every header under the identity prefix is removed, and so are
 * `Forwarded`, `X-Forwarded-*` and `X-Real-IP` unless the peer is a trusted proxy. Names are compared
 * with `_` read as `-`, because some upstreams (CGI-style servers, frameworks behind them) read
 * `X_Auth_Subject` as `X-Auth-Subject`. The client's `Authorization` and `DPoP` never pass as sent:
 * each forwarding mode sets the ones the upstream gets. `Client-Cert` passes from trusted proxies only.
 */

/** RFC 9110 §7.6.1: connection-specific fields, never forwarded (plus any the Connection header names). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  // Node answers `Expect: 100-continue` itself; the upstream connection negotiates its own.
  'expect',
]);

/**
 * Headers some frameworks let override the method or the path (Symfony, IIS, Express's
 * method-override): a GET allowed with `orders:read` must not become a DELETE, nor `/public` become
 * `/admin`, behind the gateway's back. Removed from every request.
 */
const REWRITING = new Set(['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url']);

/** Headers that tell an upstream who the client is, believed only from trusted proxies. */
function isForwardingHeader(name: string): boolean {
  return name === 'forwarded' || name.startsWith('x-forwarded-') || name === 'x-real-ip';
}

export interface UpstreamHeaderOptions {
  /** The identity header prefix, lower-case (`x-auth-`). */
  identityPrefix: string;
  /** Whether the peer is a trusted proxy (its forwarding headers are kept and appended to). */
  trustedPeer: boolean;
  /** The peer's address, appended to X-Forwarded-For. */
  peer: string;
  /** Keep the client's `Host` (else the upstream's host is sent). */
  preserveHost: boolean;
  /** The scheme of the client's connection to the gateway (`https` when it terminates TLS). */
  protocol: 'http' | 'https';
  /** Headers the gateway adds last (identity headers, the Authorization the upstream gets). */
  add: Record<string, string>;
}

/**
 * The upstream request's headers, as a flat list of name/value pairs (the rawHeaders form, so repeated
 * headers and their order survive).
 */
export function upstreamHeaders(rawHeaders: readonly string[], options: UpstreamHeaderOptions): string[] {
  const connectionListed = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      for (const token of rawHeaders[i + 1]!.split(',')) connectionListed.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  const forwardedFor: string[] = [];
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    const normalised = lower.replaceAll('_', '-');
    if (normalised.startsWith(options.identityPrefix)) continue;
    if (HOP_BY_HOP.has(lower) || connectionListed.has(lower) || REWRITING.has(normalised)) continue;
    if (lower === 'host') {
      // The first, as Node reads it.
      host ??= value;
      continue;
    }
    // Every mode sets the Authorization the upstream gets, if any: a second one the client sent
    // alongside the token that was checked must never slip through. The same for the DPoP proof
    // (RFC 9449 §4.1), which only a passthrough route configured for it forwards.
    if (lower === 'authorization' || lower === 'dpop') continue;
    // RFC 9440 §4: a client certificate header is believed only from a trusted proxy, and stripped
    // otherwise (an upstream that trusts the gateway must not take a client's word for it).
    if (lower === 'client-cert' || lower === 'client-cert-chain') {
      if (options.trustedPeer) out.push(name, value);
      continue;
    }
    if (isForwardingHeader(normalised)) {
      // Kept only from a trusted proxy, and only under their exact names.
      if (!options.trustedPeer || lower !== normalised) continue;
      if (lower === 'x-forwarded-for') {
        forwardedFor.push(value);
        continue;
      }
      if (lower === 'x-forwarded-proto') {
        forwardedProto ??= value;
        continue;
      }
      if (lower === 'x-forwarded-host') {
        forwardedHost ??= value;
        continue;
      }
    }
    out.push(name, value);
  }
  if (options.preserveHost && host !== undefined) out.push('host', host);
  forwardedFor.push(options.peer);
  out.push('x-forwarded-for', forwardedFor.join(', '));
  // A trusted proxy's word for the scheme, else the gateway's own listener's.
  out.push('x-forwarded-proto', forwardedProto ?? options.protocol);
  if (forwardedHost !== undefined || host !== undefined) out.push('x-forwarded-host', (forwardedHost ?? host)!);
  for (const [name, value] of Object.entries(options.add)) out.push(name, value);
  return out;
}

/** Response headers from the upstream, without its connection-specific ones. */
export function downstreamHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const connectionListed = new Set(
    [headers.connection ?? []].flat().flatMap((v) => v.split(',')).map((t) => t.trim().toLowerCase()),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionListed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * A claim as a header value: printable ASCII passes unchanged; `%` and anything else is
 * percent-encoded as UTF-8 (decodeURIComponent restores it), so no claim can break the header.
 */
export function headerValue(claim: string): string {
  return claim.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate: U+FFFD
    }
  });
}
