import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';

/**
 * The data directory (LATCHKEY_DATA_DIR), made if missing, owner-only. Each missing level is made on
 * its own: Node's recursive mkdir never returns where the parent refuses new entries (under /proc), and
 * a mistake is named as one: a file in the way, a directory that cannot be made or written.
 */
export function ensureDataDir(dataDir: string): string {
  const dir = resolve(dataDir);
  const missing: string[] = [];
  let at = dir;
  for (;;) {
    const kind = kindOf(at);
    if (kind === 'directory') break;
    if (kind === 'other') {
      throw new ConfigError(`LATCHKEY_DATA_DIR ${dir}: ${at === dir ? 'it is' : `${at} is`} a file, not a directory`);
    }
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const level of missing) {
    try {
      mkdirSync(level, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && kindOf(level) === 'directory') continue;
      throw new ConfigError(`LATCHKEY_DATA_DIR ${dir} cannot be created (${(err as NodeJS.ErrnoException).code ?? (err as Error).message} at ${level})`);
    }
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new ConfigError(`LATCHKEY_DATA_DIR ${dir} is not writable by this user`);
  }
  return dir;
}

function kindOf(path: string): 'directory' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch {
    return 'missing';
  }
}
