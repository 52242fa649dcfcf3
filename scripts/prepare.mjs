#!/usr/bin/env node
// `npm ci` / `npm install` run this (the root `prepare` script): compile the server when TypeScript is
// installed. A production install (`npm ci --omit=dev`) has no compiler; the `latchkey` command then
// runs the sources through tsx, which is a runtime dependency.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
try {
  require.resolve('typescript/package.json');
} catch {
  console.log('latchkey: TypeScript is not installed (production install): skipping the build; the sources run through tsx.');
  process.exit(0);
}
const result = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
