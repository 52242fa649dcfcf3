// The fingerprint of packages/server/src: every file's path and SHA-256. `npm run build` stores it in
// dist/.built; bin/latchkey.js runs dist/ only while the sources still have that fingerprint, so an
// edited, added, deleted or back-dated file always means running the sources themselves.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function sourceManifest(srcDir) {
  const hash = createHash('sha256');
  const walk = (dir, prefix) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, `${prefix}${entry.name}/`);
      else hash.update(`${prefix}${entry.name}\0`).update(readFileSync(path)).update('\0');
    }
  };
  walk(srcDir, '');
  return hash.digest('hex');
}
