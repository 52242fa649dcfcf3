import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDataDir } from '../lib/data-dir.ts';
import { ConfigError } from '../errors.ts';

export interface ResolvedSecret {
  secret: string;
  /** Set when the secret came from (or was just written to) the data directory. */
  generatedFile?: string;
}

/**
 * The key-encryption secret: `LATCHKEY_SECRET` when set; otherwise one generated once into the data
 * directory (mode 0600). The caller warns about the latter: production sets the variable.
 */
export function resolveSecret(settings: {
  secret: string | undefined;
  dataDir: string;
  databaseUrl: string | undefined;
}): ResolvedSecret {
  if (settings.secret) return { secret: settings.secret };
  // With PostgreSQL the keys are shared by every node, but a generated secret would live in one
  // node's data directory: another node (or a redeploy on a fresh disk) could never decrypt them.
  if (settings.databaseUrl) {
    throw new ConfigError('LATCHKEY_SECRET is required with DATABASE_URL: every node must use the same secret to decrypt the signing keys');
  }
  const dir = ensureDataDir(settings.dataDir);
  const file = join(dir, 'secret');
  try {
    return { secret: readWhenWritten(file), generatedFile: file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('base64url');
  try {
    // 'wx': when two processes start at once on a fresh directory, exactly one writes the secret.
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return { secret, generatedFile: file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { secret: readWhenWritten(file), generatedFile: file };
  }
}

/** Another process may have created the file an instant ago and not yet written it. */
function readWhenWritten(file: string): string {
  for (let attempt = 0; attempt < 50; attempt++) {
    const text = readFileSync(file, 'utf8').trim();
    if (text) return text;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  throw new Error(`${file} is empty: delete it or set LATCHKEY_SECRET`);
}
