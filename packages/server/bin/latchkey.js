#!/usr/bin/env node
// The `latchkey` command: this package's "./cli" export. Installed or built, that is dist/; run with
// `--conditions=@latchkey/source --import tsx` (as `npm run dev` does) it is the TypeScript sources.
const { main } = await import('@latchkey/server/cli');
process.exitCode = await main(process.argv.slice(2));
