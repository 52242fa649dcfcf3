#!/usr/bin/env node
// `npm test`: every package's tests, the examples' (examples/*/test), the repository's (test/) and the
// benchmark harness's, through node's built-in runner. Node 20 finds no .ts files when given a
// directory, so the files are listed here. Extra arguments are passed to `node --test` (e.g.
// `npm test -- --test-name-pattern=rotation`), or name test files to run only those.
//
// In the test processes, packages import each other's TypeScript sources (the `@latchkey/source`
// export condition). Processes the tests start (`latchkey serve`, `latchkey-gateway`) run the compiled
// dist/, which `tsc -b` brings up to date first (about a second when nothing changed).
//
// The sources load the cheapest way the running Node offers. Node 22.18 and later strip the types
// themselves (process.features.typescript): each type is replaced by blanks, so line and column numbers
// in stack traces are the source's own, and no loader runs. The sources are written for that
// (`erasableSyntaxOnly` in tsconfig.json). Node 20 cannot, and loads them through tsx, with source maps.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const args = process.argv.slice(2);
const named = args.filter((a) => a.endsWith('.test.ts'));
const options = args.filter((a) => !a.endsWith('.test.ts'));
const testDirs = (parent) => readdirSync(join(root, parent)).map((p) => join(root, parent, p, 'test'));
const files = named.length
  ? named
  : [...testDirs('packages'), ...testDirs('examples')]
      .filter((d) => {
        try {
          return statSync(d).isDirectory();
        } catch {
          return false;
        }
      })
      .concat([join(root, 'test'), join(root, 'bench', 'test')])
      .flatMap(findTests)
      .map((f) => relative(root, f))
      .sort();

if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const build = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);

// TAP when the output is read by a program (CI counts its lines); Node 24 would print `spec` everywhere.
const reporter = process.stdout.isTTY ? [] : ['--test-reporter=tap'];
// A file's whole run must end within the timeout: 5 minutes leaves the longest (the fuzz files, about a
// minute alone) room on a loaded 2-core machine, and still stops a hung suite.
const loader = process.features.typescript ? [] : ['--import', 'tsx'];
const result = spawnSync(
  process.execPath,
  ['--conditions=@latchkey/source', ...loader, '--test', '--test-concurrency=2', '--test-timeout=300000', ...reporter, ...options, ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
