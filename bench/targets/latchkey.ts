import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startProcess } from '../lib/processes.ts';
import { processTarget, type Target } from './target.ts';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'packages/server/bin/latchkey.js');
const SECRET = 'latchkey-benchmark-secret-0123456789';
const AUDIENCE = 'https://api.example.com';

/**
 * Latchkey as users run it: `latchkey serve` in its own process, on SQLite in a fresh data directory
 * or on a fresh PostgreSQL database. Request logging is at `warn` (oidc-provider logs no requests).
 */
export async function startLatchkey(options: {
  databaseUrl?: string;
  label: string;
  tokenFormat?: 'jwt' | 'opaque';
  /** Access-token lifetime of the benchmark API (the server's default when absent). */
  accessTokenTtlSeconds?: number;
}): Promise<LatchkeyTarget> {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PORT: String(port),
    LATCHKEY_ISSUER: issuer,
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_SECRET: SECRET,
    LOG_LEVEL: 'warn',
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
  };
  const cli = async (...args: string[]) => (await run(process.execPath, [BIN, ...args], { env })).stdout;
  const ttl = options.accessTokenTtlSeconds ? ['--access-token-ttl', String(options.accessTokenTtlSeconds)] : [];
  await cli('resources', 'create', '--identifier', AUDIENCE, '--scopes', 'orders:read,orders:write', '--token-format', options.tokenFormat ?? 'jwt', ...ttl);
  const created = JSON.parse(
    await cli('clients', 'create', '--name', 'bench', '--type', 'confidential', '--grant-types', 'client_credentials', '--scopes', 'orders:read', '--json'),
  ) as { client_id: string; client_secret: string };

  const launch = () =>
    startProcess({ name: options.label, url: issuer, readyUrl: `${issuer}/readyz`, command: process.execPath, args: [BIN, 'serve'], env });
  const target = await processTarget(
    {
      name: options.label,
      issuer,
      tokenUrl: `${issuer}/token`,
      introspectionUrl: `${issuer}/introspect`,
      clientId: created.client_id,
      clientSecret: created.client_secret,
      tokenForm: `grant_type=client_credentials&scope=orders%3Aread&resource=${encodeURIComponent(AUDIENCE)}`,
    },
    launch,
    () => rmSync(dataDir, { recursive: true, force: true }),
  );
  return Object.assign(target, { audience: AUDIENCE, cli });
}

/** A running Latchkey, with its CLI on the same data (changes reach the running server at once). */
export type LatchkeyTarget = Target & {
  /** The benchmark API's identifier, the `aud` of the tokens. */
  audience: string;
  /** Runs `latchkey ARGS...` against this server's data; resolves to its standard output. */
  cli(...args: string[]): Promise<string>;
};
