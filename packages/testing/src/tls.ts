import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed certificate for 127.0.0.1, made by the openssl command, in a temporary directory. */
export interface TestCertificate {
  /** PEM of the certificate, which is its own authority. */
  cert: string;
  /** PEM of its private key. */
  key: string;
  /** A file holding `cert`, for settings that take a CA file (LATCHKEY_OUTBOUND_CA_FILE). */
  certFile: string;
  /** Deletes the directory. */
  remove(): void;
}

/**
 * A certificate for https servers on 127.0.0.1 in tests: a P-256 key, valid for a day, with the
 * address as subjectAltName (TLS checks the URL's host against it). Trusted only where `cert` or
 * `certFile` is named as an authority.
 */
export function selfSignedCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-nodes', '-days', '1',
    '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    certFile,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
