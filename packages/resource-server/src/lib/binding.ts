import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AccessTokenClaims } from '../claims.ts';
import { DPOP_DEFAULTS, type DpopMode, type DpopOptions } from '../defaults.ts';
import { checkDpopProof, createMemoryReplayCache, DpopProofError, type DpopNonceSource, type DpopReplayCheck } from '../dpop.ts';
import { ConfigurationError, InvalidDpopProofError, TokenValidationError, UseDpopNonceError } from '../errors.ts';
import { isObject } from './http.ts';
import { isForbiddenAlgorithm } from './options.ts';

/** Sender-constrained tokens (RFC 9449 DPoP, RFC 8705 certificate binding): options and checks. */

/** The DPoP options of a middleware, checked and completed with their defaults. */
export interface DpopConfig {
  mode: DpopMode;
  /** Base URL without a trailing slash; undefined: the request's own URL. */
  publicUrl: string | undefined;
  algorithms: string[];
  maxAgeSeconds: number;
  clockToleranceSeconds: number;
  replay: DpopReplayCheck;
  nonce: DpopNonceSource | undefined;
}

/** Asymmetric algorithms jose verifies proofs with. */
const PROOF_ALGORITHMS = new Set(['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519']);

/** One per process: a proof is used once whichever middleware sees it (RFC 9449 §11.1). */
let sharedReplayCache: DpopReplayCheck | undefined;

export function resolveDpopOptions(option: DpopMode | DpopOptions | undefined): DpopConfig {
  const options: DpopOptions = typeof option === 'string' ? { mode: option } : option ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ConfigurationError('dpop must be "allowed", "required", "disabled" or an object of options');
  const mode = options.mode ?? DPOP_DEFAULTS.mode;
  if (!(['allowed', 'required', 'disabled'] as unknown[]).includes(mode)) throw new ConfigurationError('dpop mode must be "allowed", "required" or "disabled"');
  const algorithms = options.algorithms ?? [...DPOP_DEFAULTS.algorithms];
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw new ConfigurationError('dpop.algorithms must list at least one algorithm');
  for (const alg of algorithms) {
    // RFC 9449 §4.3 item 4: "a registered asymmetric digital signature algorithm ... not none ... not
    // a MAC-based algorithm".
    if (typeof alg !== 'string' || isForbiddenAlgorithm(alg) || !PROOF_ALGORITHMS.has(alg)) {
      throw new ConfigurationError(`dpop.algorithms: "${String(alg)}" is not an asymmetric algorithm (one of ${[...PROOF_ALGORITHMS].join(', ')})`);
    }
  }
  const maxAgeSeconds = options.maxAgeSeconds ?? DPOP_DEFAULTS.maxAgeSeconds;
  if (typeof maxAgeSeconds !== 'number' || !(maxAgeSeconds >= 1 && maxAgeSeconds <= 3600)) throw new ConfigurationError('dpop.maxAgeSeconds must be between 1 and 3600');
  const clockToleranceSeconds = options.clockToleranceSeconds ?? DPOP_DEFAULTS.clockToleranceSeconds;
  if (typeof clockToleranceSeconds !== 'number' || !(clockToleranceSeconds >= 0 && clockToleranceSeconds <= 300)) {
    throw new ConfigurationError('dpop.clockToleranceSeconds must be between 0 and 300');
  }
  if (options.replay !== undefined && typeof options.replay !== 'function') throw new ConfigurationError('dpop.replay must be a function');
  const nonce = options.nonce;
  if (nonce !== undefined && (typeof nonce?.current !== 'function' || typeof nonce?.isValid !== 'function')) {
    throw new ConfigurationError('dpop.nonce must be a nonce source (createDpopNonces)');
  }
  return {
    mode,
    publicUrl: options.publicUrl === undefined ? undefined : checkPublicUrl(options.publicUrl),
    algorithms: [...new Set(algorithms)],
    maxAgeSeconds,
    clockToleranceSeconds,
    replay: options.replay ?? (sharedReplayCache ??= createMemoryReplayCache()),
    nonce,
  };
}

function checkPublicUrl(value: unknown): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new ConfigurationError('dpop.publicUrl must be an absolute URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || url.password) {
    throw new ConfigurationError('dpop.publicUrl must be an http or https URL without query, fragment or credentials');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The parts of a request the binding checks read. */
export interface BindingRequest {
  method?: string;
  /** The request's URL as received (absolute), whose path the `htu` is checked against. */
  url?: string;
  /** The `DPoP` header value(s). */
  dpop?: string | readonly string[];
  /** The DER of the client certificate (TLS peer, or a trusted Client-Cert header). */
  clientCertificate?: Uint8Array;
}

/** The members of `cnf` (RFC 7800 §3.1) this library checks. */
interface Confirmation {
  jkt: string | undefined;
  x5t: string | undefined;
}

/**
 * RFC 7800 §3.1: a token with `cnf` is usable only by who proves possession of what it names. A member
 * this library cannot check fails closed (a token bound to something unchecked is not a bearer token).
 */
export function confirmationOf(claims: AccessTokenClaims): Confirmation {
  const { cnf, token_type: tokenType } = claims.payload;
  const found: Confirmation = { jkt: undefined, x5t: undefined };
  if (cnf !== undefined) {
    if (!isObject(cnf)) throw new TokenValidationError('cnf', 'cnf is not an object');
    for (const [name, value] of Object.entries(cnf)) {
      if (name !== 'jkt' && name !== 'x5t#S256') throw new TokenValidationError('cnf', `cnf has a member "${name}" that cannot be checked`);
      if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(value)) throw new TokenValidationError('cnf', `cnf "${name}" is not a base64url SHA-256 value`);
      if (name === 'jkt') found.jkt = value;
      else found.x5t = value;
    }
  }
  // RFC 9449 §6.2: an introspection response for a DPoP-bound token says token_type DPoP and gives cnf.jkt.
  if (typeof tokenType === 'string' && tokenType.toLowerCase() === 'dpop' && found.jkt === undefined) {
    throw new TokenValidationError('cnf', 'token_type is DPoP but cnf has no jkt');
  }
  return found;
}

/** Whether a token's claims are bound to a DPoP key (`cnf.jkt`): the scheme it must have come with. */
export function isDpopBound(claims: AccessTokenClaims): boolean {
  const cnf = claims.payload.cnf;
  return isObject(cnf) && cnf.jkt !== undefined;
}

/**
 * The binding checks of a verified token presented with `scheme`: the DPoP proof (RFC 9449 §7.1), a
 * bound token never as Bearer (§7.2), the client certificate (RFC 8705 §3). The certificate is checked
 * before the proof, whose `jti` a successful check records.
 */
export async function checkBinding(
  dpop: DpopConfig,
  request: BindingRequest,
  scheme: 'bearer' | 'dpop',
  token: string,
  claims: AccessTokenClaims,
): Promise<void> {
  const { jkt, x5t } = confirmationOf(claims);
  // RFC 9449 §7.2: "such a protected resource MUST reject a DPoP-bound access token received as a
  // bearer token per [RFC6750]".
  if (scheme === 'bearer' && jkt !== undefined) throw new TokenValidationError('dpop_bound');
  // RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens, whose cnf.jkt the proof's key must match.
  if (scheme === 'dpop' && jkt === undefined) throw new TokenValidationError('not_dpop_bound');
  // RFC 8705 §3: "the protected resource MUST obtain, from its TLS implementation layer, the client
  // certificate used for mutual TLS and MUST verify that the certificate matches the certificate
  // associated with the access token. If they do not match, the resource access attempt MUST be
  // rejected with an error, per [RFC6750], using an HTTP 401 status code and the invalid_token error code."
  if (x5t !== undefined) {
    const certificate = request.clientCertificate;
    if (certificate === undefined || !equalStrings(certificateThumbprint(certificate), x5t)) {
      throw new TokenValidationError('certificate', certificate === undefined ? 'no client certificate' : 'another client certificate');
    }
  }
  if (scheme === 'dpop') await checkProof(dpop, request, token, jkt!);
}

async function checkProof(dpop: DpopConfig, request: BindingRequest, token: string, jkt: string): Promise<void> {
  if (request.method === undefined || request.url === undefined) {
    throw new Error('checking a DPoP proof needs the request\'s method and url');
  }
  try {
    // RFC 9449 §7.1: "the resource server MUST check the DPoP proof according to the rules in
    // Section 4.3", with ath and the key binding of item 12.
    await checkDpopProof({
      proof: request.dpop,
      method: request.method,
      url: targetUri(dpop.publicUrl, request.url),
      accessToken: token,
      jkt,
      algorithms: dpop.algorithms,
      maxAgeSeconds: dpop.maxAgeSeconds,
      clockToleranceSeconds: dpop.clockToleranceSeconds,
      replay: dpop.replay,
      nonce: dpop.nonce,
    });
  } catch (err) {
    if (!(err instanceof DpopProofError)) throw err;
    // RFC 9449 §9: "the resource server responds with ... error="use_dpop_nonce" ... and a DPoP-Nonce
    // HTTP header with a nonce value".
    if (err.error === 'use_dpop_nonce') throw new UseDpopNonceError(dpop.nonce!.current());
    throw new InvalidDpopProofError(err.description, { cause: err });
  }
}

/** The URI the client addressed: the configured public URL followed by the request's path, or the request's URL. */
function targetUri(publicUrl: string | undefined, requestUrl: string): string {
  if (publicUrl === undefined) return requestUrl;
  let path: string;
  try {
    path = new URL(requestUrl).pathname;
  } catch {
    path = requestUrl.split('?')[0]!;
  }
  return `${publicUrl}${path.startsWith('/') ? path : `/${path}`}`;
}

/** RFC 8705 §3.1: `x5t#S256`, the base64url SHA-256 of the DER certificate. */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

/**
 * RFC 9440 §2.2: `Client-Cert` is a Structured Field Byte Sequence, `:` base64 of the DER `:`.
 * Anything else (several fields, another syntax) is no certificate.
 */
export function parseClientCertHeader(value: string | readonly string[] | undefined): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return value.length === 1 ? parseClientCertHeader(value[0]) : undefined;
  const match = /^[ \t]*:([A-Za-z0-9+/]+={0,2}):[ \t]*$/.exec(value);
  if (!match || match[1]!.length % 4 !== 0) return undefined;
  const der = Buffer.from(match[1]!, 'base64');
  return der.length === 0 ? undefined : new Uint8Array(der);
}

/** The DER of a TLS connection's peer certificate, when the socket is TLS and the client sent one. */
export function peerCertificate(socket: unknown): Uint8Array | undefined {
  const tls = socket as Partial<TLSSocket> | undefined;
  if (!tls || (tls as { encrypted?: boolean }).encrypted !== true || typeof tls.getPeerCertificate !== 'function') return undefined;
  const raw = tls.getPeerCertificate(true)?.raw;
  return raw && raw.length > 0 ? new Uint8Array(raw) : undefined;
}

/** Peers whose `Client-Cert` header is believed: addresses and CIDR ranges, checked at creation. */
export class TrustedPeers {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(entries: unknown, option = 'trustedProxies') {
    if (!Array.isArray(entries)) throw new ConfigurationError(`${option} must be a list of IP addresses or CIDR ranges`);
    this.empty = entries.length === 0;
    for (const entry of entries) {
      const [address, bits, extra] = typeof entry === 'string' ? entry.split('/') : [];
      const family = isIP(address ?? '');
      const max = family === 4 ? 32 : 128;
      if (family === 0 || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))) {
        throw new ConfigurationError(`${option}: "${String(entry)}" is not an IP address or CIDR range`);
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(address!, type);
      else this.list.addSubnet(address!, Number(bits), type);
    }
  }

  has(address: string | undefined): boolean {
    if (this.empty || address === undefined) return false;
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return this.list.check(mapped[1]!, 'ipv4');
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The client certificate of a request that arrived on `socket`: a trusted proxy's `Client-Cert` header
 * (RFC 9440 §4: only from a proxy known to set it), else the connection's own peer certificate. From
 * any other peer the header is ignored.
 */
export function requestCertificate(socket: unknown, clientCert: string | readonly string[] | undefined, trusted: TrustedPeers): Uint8Array | undefined {
  const remote = (socket as { remoteAddress?: string } | undefined)?.remoteAddress;
  if (trusted.has(remote)) return parseClientCertHeader(clientCert);
  return peerCertificate(socket);
}

function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
