/**
 * The demo's own certificate authority, made with the `openssl` command at every start into
 * `<dataDir>/pki` (owner-only, gitignored, gone at the next start): what a company's internal CA (or a
 * service mesh) gives its services for mutual TLS (RFC 8705).
 *
 * - `ca.pem`: the authority. Latchkey trusts it for `tls_client_auth` (LATCHKEY_MTLS_CLIENT_CA_FILE),
 *   and the orders service trusts it for the servers it calls.
 * - `localhost.pem`: the server certificate of the three mutual-TLS listeners (Latchkey's, the
 *   inventory's and the notifications'), for `localhost` and `127.0.0.1`: everything runs on loopback.
 * - `orders-service.pem`: the orders service's client certificate, its identity at Latchkey: the
 *   subjectAltName `orders-service.shop.internal` is what the client registration names.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The DNS name in the orders service's certificate, registered at Latchkey (`tls_client_auth_san_dns`). */
export const ORDERS_SERVICE_SAN_DNS = 'orders-service.shop.internal';

/** A certificate and its key: the files, and their PEM text. */
export interface DemoCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface DemoPki {
  caFile: string;
  ca: string;
  server: DemoCertificate;
  ordersService: DemoCertificate;
}

/** One day is enough: the demo makes new ones at every start. */
const VALIDITY_DAYS = '1';
const EC_P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

export function createDemoPki(dataDir: string): DemoPki {
  const dir = join(dataDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    try {
      execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? 'the demo makes its certificates with the openssl command: install OpenSSL' : `openssl ${args[0]} failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
    }
  };
  openssl('req', '-x509', '-nodes', '-days', VALIDITY_DAYS, ...EC_P256, '-subj', '/O=Latchkey Tea Shop/CN=Tea Shop Internal CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  let serial = 1;
  const issue = (name: string, subject: string, extensions: string): DemoCertificate => {
    openssl('req', '-nodes', ...EC_P256, '-subj', subject, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    writeFileSync(file(`${name}.ext`), extensions);
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-set_serial', String(serial++),
      '-days', VALIDITY_DAYS, '-extfile', file(`${name}.ext`), '-out', file(`${name}.pem`));
    return { certFile: file(`${name}.pem`), keyFile: file(`${name}.key`), cert: readFileSync(file(`${name}.pem`), 'utf8'), key: readFileSync(file(`${name}.key`), 'utf8') };
  };
  const server = issue('localhost', '/O=Latchkey Tea Shop/CN=localhost', 'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const ordersService = issue('orders-service', '/O=Latchkey Tea Shop/CN=orders-service', `extendedKeyUsage=clientAuth\nsubjectAltName=DNS:${ORDERS_SERVICE_SAN_DNS}\n`);
  return { caFile: file('ca.pem'), ca: readFileSync(file('ca.pem'), 'utf8'), server, ordersService };
}
