#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (built by `npm ci` through the root `prepare` script) when it
// is newer than every source file; otherwise the TypeScript sources through tsx, so an edit to src/
// takes effect without a rebuild.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The [oldest, newest] modification times of the files under dir ending in one of the extensions. */
function mtimes(dir, extension) {
  let oldest = Infinity;
  let newest = -Infinity;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(extension)) continue;
    const { mtimeMs } = statSync(join(entry.parentPath ?? entry.path, entry.name));
    oldest = Math.min(oldest, mtimeMs);
    newest = Math.max(newest, mtimeMs);
  }
  return [oldest, newest];
}

function distIsCurrent() {
  try {
    const [oldestBuilt] = mtimes(join(root, 'dist'), '.js');
    const [, newestSource] = mtimes(join(root, 'src'), '.ts');
    return oldestBuilt !== Infinity && oldestBuilt >= newestSource;
  } catch {
    return false;
  }
}

let main;
if (distIsCurrent()) {
  ({ main } = await import('../dist/cli.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
