import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { inChildSpan } from '../observability/tracing.ts';

/**
 * The one way the server fetches a URL that a client or an operator gave it (a client's `jwks_uri`,
 * a client ID metadata document), through an SSRF guard. The URL is not ours, so the request must not
 * become a way into the server's own network (Keycloak CVE-2026-9086, Spring Authorization Server
 * CVE-2026-22752; draft-ietf-oauth-client-id-metadata-document §8.6): https only; every address the
 * host resolves to must be public; the connection goes to exactly the addresses checked (no second DNS
 * answer, so no rebinding); no redirects; bounded size and time. Loopback (and plain http to it) only
 * with a development setting, named by the caller (docs/security.md L78).
 */

export interface GuardedFetchOptions {
  /** Loopback addresses, and plain http to them, are allowed: a development setting. */
  allowLoopback: boolean;
  /** The environment variable of that setting, named when plain http is refused. */
  loopbackSetting: string;
  /** Time allowed for the whole fetch, DNS included. */
  timeoutMs: number;
  /** Largest body accepted. */
  maxBytes: number;
  /** The `Accept` header sent. */
  accept: string;
  /** What the URL is, at the start of every refusal: `jwks_uri`, `client_id`. */
  what: string;
  /** LATCHKEY_OUTBOUND_CA_FILE: a PEM file of authorities trusted besides the public ones. */
  caFile?: string | undefined;
  /** POST with this body and these headers (an upstream token endpoint); default GET. */
  post?: { body: string; headers: Record<string, string> };
  /** Any status is an answer (an OAuth error is a 400 with a JSON body); default only 200. Redirects never. */
  anyStatus?: boolean;
}

/** The certificates of each CA file read, by path: read once, at the first fetch that needs them. */
const extraAuthorities = new Map<string, string[]>();

/**
 * The authorities a fetch trusts: Node's public roots, plus those of `caFile`. Naming `ca` replaces
 * Node's roots, so they are listed too: a client on the public web keeps working.
 */
function trustedAuthorities(caFile: string): string[] {
  let trusted = extraAuthorities.get(caFile);
  if (!trusted) {
    trusted = [...rootCertificates, ...pemCertificates(readFileSync(caFile, 'utf8'))];
    extraAuthorities.set(caFile, trusted);
  }
  return trusted;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

export function pemCertificates(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? [];
}

/** Startup check of LATCHKEY_OUTBOUND_CA_FILE: why the file cannot be used, or undefined. */
export function checkCaFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return `cannot be read: ${(err as Error).message}`;
  }
  if (pemCertificates(text).length === 0) return 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)';
  return undefined;
}

/** A 200 answer of the guarded fetch. */
export interface GuardedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The fetch was refused or failed; the message is for logs (it may name the address). */
export class OutboundFetchError extends Error {
  override readonly name = 'OutboundFetchError';
}

/**
 * The URL rules every fetched URL follows, checked before anything is resolved: an absolute URL of at
 * most `maxLength` characters without spaces, controls, backslashes, userinfo or fragment; https, or
 * http to a loopback IP literal (which the fetch still refuses unless loopback is allowed). Returns
 * why not, or undefined.
 */
export function checkFetchableUrl(uri: string, maxLength: number): string | undefined {
  if (uri.length === 0 || uri.length > maxLength) return `must be 1-${maxLength} characters`;
  if (/[\s\x00-\x1f\x7f\\]/.test(uri)) return 'must not contain spaces, control characters or backslashes';
  if (uri.includes('#')) return 'must not contain a fragment (#)';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(uri)) return 'must not contain userinfo (user@host)';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    if (isLoopback(bareHost(url.hostname))) return undefined;
    return 'must use https (http only for 127.0.0.1 or [::1], in development)';
  }
  return 'must be an https URL';
}

/** Addresses never fetched from: private, shared, link-local, reserved, multicast and unspecified. */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // carrier-grade NAT (RFC 6598)
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['64:ff9b::', 96], // NAT64, can reach any IPv4 address
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4, embeds an IPv4 address
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

/**
 * IPv6 forms that embed an IPv4 address and may reach it through a tunnel or translator. Checked for
 * IPv6 input only: BlockList would also match IPv4 addresses against `::/96`.
 */
const EMBEDDED_IPV4 = new BlockList();
EMBEDDED_IPV4.addSubnet('::', 96, 'ipv6'); // IPv4-compatible (::a.b.c.d, deprecated)
EMBEDDED_IPV4.addSubnet('0:0:0:0:ffff:0::', 96, 'ipv6'); // IPv4-translated, ::ffff:0:a.b.c.d (RFC 2765 SIIT)
EMBEDDED_IPV4.addSubnet('2001::', 32, 'ipv6'); // Teredo

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** Whether `address` is a loopback IP literal (127.0.0.0/8, ::1). */
function isLoopback(address: string): boolean {
  return isIP(address) !== 0 && LOOPBACK.check(address, family(address));
}

/** `[::1]` as URL.hostname writes it, to `::1`. */
function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/**
 * Whether the guard lets a connection go to `address` (an IP literal). Returns why not, or undefined.
 * Loopback is allowed only with `allowLoopback`; every other non-public address never.
 */
export function checkAddress(address: string, allowLoopback: boolean): string | undefined {
  if (isIP(address) === 0) return `${address} is not an IP address`;
  if (isLoopback(address)) return allowLoopback ? undefined : `${address} is a loopback address`;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is checked against the IPv4 rules by BlockList itself.
  if (NON_PUBLIC.check(address, family(address))) return `${address} is not a public address`;
  if (family(address) === 'ipv6' && EMBEDDED_IPV4.check(address, 'ipv6')) {
    return `${address} embeds an IPv4 address`;
  }
  return undefined;
}

interface Resolved {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves `hostname` and checks every address it has: one forbidden address refuses the whole
 * name (an attacker controls which one a client would pick). The connection later uses exactly these.
 */
export async function resolveAllowed(hostname: string, allowLoopback: boolean): Promise<Resolved[]> {
  const host = bareHost(hostname);
  const found =
    isIP(host) !== 0
      ? [{ address: host, family: isIP(host) as 4 | 6 }]
      : (await lookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
  if (found.length === 0) throw new OutboundFetchError(`${host} has no address`);
  for (const { address } of found) {
    const refused = checkAddress(address, allowLoopback);
    if (refused) throw new OutboundFetchError(`host ${host} refused: ${refused}`);
  }
  return found;
}

/**
 * GETs `uri` through the guard and returns its 200 answer. The URL must already have passed
 * checkFetchableUrl. Throws OutboundFetchError for anything refused or failed. Inside a traced request
 * it is a child span (observability/tracing.ts) naming the URL without its query, fragment or
 * credentials, which may carry secrets.
 */
export async function fetchGuarded(uri: string, options: GuardedFetchOptions): Promise<GuardedResponse> {
  return inChildSpan(
    options.post ? 'POST' : 'GET',
    { 'http.request.method': options.post ? 'POST' : 'GET', ...spanUrl(uri) },
    () => fetchChecked(uri, options),
    (response, span) => span.setAttribute('http.response.status_code', response.status),
  );
}

/** `url.full` and `server.address` of a span: scheme, host, port and path only. */
function spanUrl(uri: string): { 'url.full'?: string; 'server.address'?: string } {
  try {
    const url = new URL(uri);
    return { 'url.full': `${url.protocol}//${url.host}${url.pathname}`, 'server.address': url.hostname };
  } catch {
    return {};
  }
}

async function fetchChecked(uri: string, options: GuardedFetchOptions): Promise<GuardedResponse> {
  const { timeoutMs, maxBytes, what } = options;
  const url = new URL(uri);
  // Plain http only to loopback, and only in development (the addresses are checked below).
  if (url.protocol === 'http:' && !options.allowLoopback) {
    throw new OutboundFetchError(`${what} uses http: allowed only with ${options.loopbackSetting} (development)`);
  }

  let timer: NodeJS.Timeout | undefined;
  let request: http.ClientRequest | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new OutboundFetchError(`${what} did not answer within ${timeoutMs} ms`);
      request?.destroy(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    const addresses = await Promise.race([
      resolveAllowed(url.hostname, options.allowLoopback).catch((err: unknown) => {
        throw new OutboundFetchError(`${what} ${(err as Error).message}`);
      }),
      deadline,
    ]);
    if (url.protocol === 'http:' && !addresses.every((a) => isLoopback(a.address))) {
      throw new OutboundFetchError(`${what} uses http to a host that is not loopback`);
    }
    // The socket connects to the checked addresses only: Node asks this instead of DNS (TLS still
    // verifies the certificate against the host name in the URL).
    const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
      if (lookupOptions.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    const transport = url.protocol === 'https:' ? https : http;
    const answer = new Promise<GuardedResponse>((resolve, reject) => {
      request = transport.request(url, {
        method: options.post ? 'POST' : 'GET',
        headers: { ...(options.post?.headers ?? {}), accept: options.accept, 'user-agent': 'latchkey' },
        lookup: pinned,
        // A fresh connection: a pooled one may have been made by another lookup.
        agent: false,
        ...(options.caFile !== undefined && url.protocol === 'https:' ? { ca: trustedAuthorities(options.caFile) } : {}),
      });
      request.on('error', (err) => reject(err instanceof OutboundFetchError ? err : new OutboundFetchError(`${what} fetch failed: ${err.message}`)));
      request.on('response', (response) => {
        const fail = (message: string) => {
          const error = new OutboundFetchError(message);
          response.destroy();
          request?.destroy(error);
          reject(error);
        };
        // Redirects are not followed: the target was never checked, and may be anywhere.
        const status = response.statusCode ?? 0;
        if (options.anyStatus ? status >= 300 && status < 400 : status !== 200) {
          return fail(`${what} answered ${status}; ${options.anyStatus ? 'redirects are not followed' : 'only 200 is accepted (no redirects)'}`);
        }
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) return fail(`${what} document is larger than ${maxBytes} bytes`);
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return fail(`${what} document is larger than ${maxBytes} bytes`);
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ status, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', (err) => reject(new OutboundFetchError(`${what} fetch failed: ${err.message}`)));
      });
      request.end(options.post?.body);
    });
    return await Promise.race([answer, deadline]);
  } finally {
    clearTimeout(timer);
    deadline.catch(() => {});
  }
}

/** The body of a guarded answer as JSON; OutboundFetchError when it is not. */
export function parseJsonBody(response: GuardedResponse, what: string): unknown {
  try {
    return JSON.parse(response.body.toString('utf8')) as unknown;
  } catch {
    throw new OutboundFetchError(`${what} document is not JSON`);
  }
}
