#!/usr/bin/env node
// The `latchkey-gateway` command: this package's "./cli" export. Installed or built, that is dist/;
// run with `--conditions=@latchkey/source --import tsx` it is the TypeScript sources.
const { main } = await import('@latchkey/gateway/cli');
process.exitCode = await main(process.argv.slice(2));
