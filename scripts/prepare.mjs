#!/usr/bin/env node
// `npm ci` / `npm install` run this (the root `prepare` script): compile every package into its dist/
// (`tsc -b`, incremental). The compiler and the types the server needs are dependencies of the
// repository root, so a production install (`npm ci --omit=dev`) builds too; without the libraries'
// development dependencies (express's types) it builds the server alone, which is what `npm start` runs.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const has = (name) => {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
};
if (!has('typescript')) {
  console.log('latchkey: TypeScript is not installed: nothing is built.');
  process.exit(0);
}
const everything = has('@types/express');
if (!everything) console.log('latchkey: a production install: building the server only (packages/server/dist).');
const project = everything ? 'tsconfig.build.json' : 'packages/server/tsconfig.build.json';
const result = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', project], { stdio: 'inherit' });
process.exit(result.status ?? 1);
