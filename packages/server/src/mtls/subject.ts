import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * RFC 8705 §2.1.2: a `tls_client_auth` client registers exactly one of these, and "the certificate
 * ... MUST match" it: the subject DN (RFC 4514 string), or one of its subjectAltName entries.
 */
export type TlsClientAuthSubject =
  | { subjectDn: string }
  | { sanDns: string }
  | { sanUri: string }
  | { sanIp: string }
  | { sanEmail: string };

/** The RFC 7591 metadata member of each kind (RFC 8705 §2.1.2). */
export const SUBJECT_METADATA = {
  subjectDn: 'tls_client_auth_subject_dn',
  sanDns: 'tls_client_auth_san_dns',
  sanUri: 'tls_client_auth_san_uri',
  sanIp: 'tls_client_auth_san_ip',
  sanEmail: 'tls_client_auth_san_email',
} as const;

/** The RFC 8705 §2.1.2 metadata member of a registered subject, as registrations and the CLI name it. */
export function tlsSubjectMetadata(subject: TlsClientAuthSubject): Record<string, string> {
  const [kind, value] = Object.entries(subject)[0]!;
  return { [SUBJECT_METADATA[kind as keyof typeof SUBJECT_METADATA]]: value as string };
}

/** Whether the certificate carries the registered subject. */
export function certificateMatches(cert: X509Certificate, expected: TlsClientAuthSubject): boolean {
  if ('subjectDn' in expected) {
    const registered = parseDn(expected.subjectDn);
    // Node writes the subject one attribute per line, in the certificate's order (most significant
    // first); RFC 4514 §2.1 writes it in reverse, comma-separated.
    const actual = cert.subject.split('\n').filter((l) => l !== '').map(attribute).reverse();
    return registered !== undefined && registered.length === actual.length && registered.every((a, i) => a === actual[i]);
  }
  const names = subjectAltNames(cert);
  if ('sanDns' in expected) return names.some((n) => n.type === 'DNS' && n.value.toLowerCase() === expected.sanDns.toLowerCase());
  if ('sanUri' in expected) return names.some((n) => n.type === 'URI' && n.value === expected.sanUri);
  if ('sanEmail' in expected) return names.some((n) => n.type === 'email' && n.value.toLowerCase() === expected.sanEmail.toLowerCase());
  return names.some((n) => n.type === 'IP Address' && sameAddress(n.value, expected.sanIp));
}

/** Checks a registered subject DN's syntax (RFC 4514 §3): `CN=svc,O=Example`, with `\,` escapes. */
export function isDistinguishedName(value: string): boolean {
  return parseDn(value) !== undefined;
}

/** `type=value` of one attribute, the type upper-cased, for comparison. */
function attribute(text: string): string {
  const eq = text.indexOf('=');
  return `${text.slice(0, eq).trim().toUpperCase()}=${text.slice(eq + 1)}`;
}

/** An RFC 4514 DN as its attributes, in the string's order; undefined when it is not one. */
function parseDn(value: string): string[] | undefined {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      current += value[++i];
      continue;
    }
    // Multi-valued RDNs (`+`) are rare in client certificates and not supported.
    if (c === '+') return undefined;
    if (c === ',') {
      parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  parts.push(current);
  const attributes = parts.map((p) => p.trim());
  if (attributes.some((a) => !/^[A-Za-z][A-Za-z0-9-]*=./.test(a))) return undefined;
  return attributes.map(attribute);
}

interface AltName {
  type: string;
  value: string;
}

/** Node's `subjectAltName`: `DNS:a, URI:b, IP Address:c, email:d`, values with commas JSON-quoted. */
function subjectAltNames(cert: X509Certificate): AltName[] {
  const text = cert.subjectAltName;
  if (!text) return [];
  const names: AltName[] = [];
  const pattern = /(DNS|URI|IP Address|email|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const match of text.matchAll(pattern)) {
    const raw = match[2]!;
    names.push({ type: match[1]!, value: raw.startsWith('"') ? (JSON.parse(raw) as string) : raw });
  }
  return names;
}

function sameAddress(a: string, b: string): boolean {
  if (isIP(a) === 0 || isIP(b) === 0) return false;
  return a.toLowerCase() === b.toLowerCase();
}
