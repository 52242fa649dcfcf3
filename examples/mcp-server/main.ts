// The example MCP server, guarded by Latchkey (README.md in this folder walks through it):
//   LATCHKEY_ISSUER=http://localhost:9000 MCP_URL=http://localhost:3001/mcp \
//     node --conditions=@latchkey/source --import tsx examples/mcp-server/main.ts
import { startMcpServer } from './server.ts';

const issuer = process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000';
const url = process.env.MCP_URL ?? 'http://localhost:3001/mcp';
const server = await startMcpServer({ issuer, url });
console.log(`MCP server at ${server.url}, tokens from ${issuer}`);
console.log(`protected resource metadata: ${new URL(url).origin}/.well-known/oauth-protected-resource${new URL(url).pathname}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close().then(() => process.exit(0)));
}
