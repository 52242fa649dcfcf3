import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compile } from '@fastify/proxy-addr';
import type { FastifyRequest } from 'fastify';
import { certificateThumbprint, parseClientCertHeader, peerCertificate } from '@latchkey/resource-server/client-certificate';
import { issuerUrls, type IssuerUrls } from '../config/issuer-urls.ts';
import type { Settings } from '../config/defaults.ts';
import { trustedProxies } from '../config/load.ts';
import { pemCertificates } from '../lib/outbound-fetch.ts';

/** A client certificate that came with a request (RFC 8705 §2): its DER, parsed, and its `x5t#S256`. */
export interface PresentedCertificate {
  der: Uint8Array;
  x509: X509Certificate;
  /** RFC 8705 §3.1: base64url SHA-256 of the DER, the `cnf` of certificate-bound tokens. */
  thumbprint: string;
}

/** What the server knows about mutual TLS, worked out once from the settings. */
export interface MtlsSettings {
  /** Whether certificates can reach the server at all (a listener, or a proxy's URL): only then is mTLS announced. */
  enabled: boolean;
  /** The authorities of `tls_client_auth` certificates (RFC 8705 §2.1). */
  clientAuthorities: X509Certificate[];
  /** The URLs of the mutual-TLS endpoints (`mtls_endpoint_aliases`), with the issuer's path. */
  urls: IssuerUrls | undefined;
  /** Whether a peer address is a trusted proxy, whose `Client-Cert` header is believed (RFC 9440 §4). */
  trustsPeer(address: string | undefined): boolean;
}

const cache = new WeakMap<Settings, MtlsSettings>();

export function mtlsSettings(settings: Settings): MtlsSettings {
  let found = cache.get(settings);
  if (!found) {
    found = readMtlsSettings(settings);
    cache.set(settings, found);
  }
  return found;
}

function readMtlsSettings(settings: Settings): MtlsSettings {
  const authorities = settings.mtlsClientCaFile === undefined ? [] : pemCertificates(readFileSync(settings.mtlsClientCaFile, 'utf8')).map((pem) => new X509Certificate(pem));
  const base = settings.mtlsUrl ?? (settings.mtlsPort > 0 ? `https://${hostOf(settings.issuer)}:${settings.mtlsPort}` : undefined);
  const urls = base === undefined ? undefined : issuerUrls(`${base}${new URL(settings.issuer).pathname.replace(/\/$/, '')}`);
  const trusted = settings.trustedProxies === undefined ? undefined : trustedProxies(settings.trustedProxies);
  let trustsPeer: (address: string | undefined) => boolean = () => false;
  if (typeof trusted === 'number') trustsPeer = (address) => address !== undefined && trusted >= 1;
  else if (trusted !== undefined) {
    const trust = compile(trusted);
    trustsPeer = (address) => address !== undefined && trust(address, 0);
  }
  return { enabled: urls !== undefined, clientAuthorities: authorities, urls, trustsPeer };
}

/** The issuer's host (IPv6 literals keep their brackets), for the default URL of the listener. */
function hostOf(issuer: string): string {
  return new URL(issuer).hostname;
}

/**
 * The client certificate of a request: the TLS connection's own (the mutual-TLS listener), or the RFC
 * 9440 `Client-Cert` header, believed only from a trusted proxy (LATCHKEY_TRUSTED_PROXIES) and
 * ignored from anyone else (§4: "the header ... MUST be removed or overwritten" by the proxy; a
 * client that reaches Latchkey directly could otherwise claim any certificate).
 */
export function requestCertificate(request: FastifyRequest, settings: Settings): PresentedCertificate | undefined {
  const socket = request.raw.socket;
  let der = peerCertificate(socket);
  if (der === undefined && mtlsSettings(settings).trustsPeer(socket?.remoteAddress)) {
    der = parseClientCertHeader(request.headers['client-cert']);
  }
  if (der === undefined) return undefined;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    // Not a certificate: as if none had been presented.
    return undefined;
  }
  return { der, x509, thumbprint: certificateThumbprint(der) };
}
