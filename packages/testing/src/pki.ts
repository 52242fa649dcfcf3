import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate with its private key (PEM) and its DER, as a TLS client presents it. */
export interface CertifiedKey {
  cert: string;
  key: string;
  der: Buffer;
}

/** What goes into a client certificate: the subject (openssl's `/CN=a/O=b` form) and subjectAltName entries. */
export interface CertificateRequest {
  subject: string;
  /** e.g. `DNS:svc.example.com`, `URI:spiffe://example/svc`, `IP:10.0.0.1`, `email:a@example.com`. */
  san?: string[];
}

/**
 * A test PKI made with the openssl command (RFC 8705 §2.1): a CA (`caFile` for settings that take a
 * CA file), client certificates it signs, self-signed client certificates (§2.2), and an https server
 * certificate for 127.0.0.1 signed by the same CA.
 */
export interface TestPki {
  ca: string;
  caFile: string;
  /** A client certificate signed by the CA. */
  client(request: CertificateRequest): CertifiedKey;
  /** A self-signed client certificate (its own authority). */
  selfSigned(request: CertificateRequest): CertifiedKey;
  /** A server certificate for 127.0.0.1 and localhost, signed by the CA. */
  server(): CertifiedKey & { certFile: string; keyFile: string };
  remove(): void;
}

export function testPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-pki-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  openssl('req', '-x509', '-nodes', '-days', '1', ...ec, '-subj', '/CN=Latchkey Test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  let serial = 1;
  const read = (name: string): CertifiedKey => {
    const cert = readFileSync(file(`${name}.pem`), 'utf8');
    return { cert, key: readFileSync(file(`${name}.key`), 'utf8'), der: Buffer.from(new X509Certificate(cert).raw) };
  };
  const extensions = (usage: string, san: string[] | undefined) =>
    `extendedKeyUsage=${usage}\n${san && san.length > 0 ? `subjectAltName=${san.join(',')}\n` : ''}`;
  const signed = (name: string, request: CertificateRequest, usage: string) => {
    openssl('req', '-nodes', ...ec, '-subj', request.subject, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    writeFileSync(file(`${name}.cnf`), extensions(usage, request.san));
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-set_serial', String(serial++),
      '-days', '1', '-extfile', file(`${name}.cnf`), '-out', file(`${name}.pem`));
    return read(name);
  };
  return {
    ca: readFileSync(file('ca.pem'), 'utf8'),
    caFile: file('ca.pem'),
    client: (request) => signed(`client-${serial}`, request, 'clientAuth'),
    selfSigned(request) {
      const name = `self-${serial++}`;
      const san = request.san && request.san.length > 0 ? ['-addext', `subjectAltName=${request.san.join(',')}`] : [];
      openssl('req', '-x509', '-nodes', '-days', '1', ...ec, '-subj', request.subject, ...san, '-keyout', file(`${name}.key`), '-out', file(`${name}.pem`));
      return read(name);
    },
    server() {
      const made = signed('server', { subject: '/CN=127.0.0.1', san: ['IP:127.0.0.1', 'DNS:localhost'] }, 'serverAuth');
      return { ...made, certFile: file('server.pem'), keyFile: file('server.key') };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** An answer read whole, its body parsed as JSON when it is JSON. */
export interface TlsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/**
 * An https request that presents `client` (or no certificate) and trusts `ca` for the server: what
 * a mutual-TLS client sends (RFC 8705). A form body when `form` is given.
 */
export function tlsRequest(
  url: string,
  options: { ca: string; client?: CertifiedKey; method?: string; form?: Record<string, string>; headers?: Record<string, string> },
): Promise<TlsReply> {
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  const headers: Record<string, string> = { ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...options.headers };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: options.method ?? (body !== undefined ? 'POST' : 'GET'), ca: options.ca, cert: options.client?.cert, key: options.client?.key, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
