import { createRequire } from 'node:module';
import { freePort, startProcess } from '../lib/processes.ts';
import { processTarget, type Target } from './target.ts';

const SCRIPT = new URL('../peers/oidc-provider-server.mjs', import.meta.url).pathname;

/** The installed oidc-provider version, for the report. */
export function oidcProviderVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('oidc-provider/package.json') as { version: string }).version;
}

/**
 * node-oidc-provider in its own process with its default in-memory adapter, issuing ES256 JWT access
 * tokens (`format: 'jwt'`) or opaque ones (`'opaque'`: it cannot introspect its JWT access tokens).
 */
export async function startOidcProvider(format: 'jwt' | 'opaque'): Promise<Target> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const launch = () =>
    startProcess({
      name: `oidc-provider ${oidcProviderVersion()}`,
      url: issuer,
      readyUrl: `${issuer}/.well-known/openid-configuration`,
      command: process.execPath,
      args: [SCRIPT, String(port), format],
      env: { PATH: process.env.PATH, NODE_ENV: 'production' },
    });
  return processTarget(
    {
      name: `oidc-provider ${oidcProviderVersion()}`,
      issuer,
      tokenUrl: `${issuer}/token`,
      introspectionUrl: `${issuer}/token/introspection`,
      clientId: 'bench-client',
      clientSecret: 'bench-client-secret-0123456789abcdef',
      tokenForm: `grant_type=client_credentials&scope=orders%3Aread&resource=${encodeURIComponent('https://api.example.com')}`,
    },
    launch,
  );
}
