// An MCP client for the example server, with the official SDK: it finds Latchkey from the server's
// 401, registers itself (RFC 7591) unless CLIENT_ID or CLIENT_METADATA_URL says otherwise, prints the
// URL to open in a browser, waits for the redirect on 127.0.0.1, then calls the tools.
//   MCP_URL=http://localhost:3001/mcp node --conditions=@latchkey/source --import tsx examples/mcp-server/client.ts
import { createServer } from 'node:http';
import { connect, MemoryOAuthProvider } from './oauth-client.ts';

const serverUrl = process.env.MCP_URL ?? 'http://localhost:3001/mcp';
const callbackPort = Number(process.env.CALLBACK_PORT ?? 8976);
const redirectUrl = `http://127.0.0.1:${callbackPort}/callback`;

const provider = new MemoryOAuthProvider({
  redirectUrl,
  ...(process.env.CLIENT_METADATA_URL ? { clientMetadataUrl: process.env.CLIENT_METADATA_URL } : {}),
  ...(process.env.CLIENT_ID ? { clientInformation: { client_id: process.env.CLIENT_ID } } : {}),
});

/** Prints the authorization URL and waits for the browser to come back with the code. */
function authorizeInBrowser(url: URL): Promise<string> {
  console.log(`Open this URL in a browser, sign in and allow access:\n\n  ${url.href}\n`);
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      const back = new URL(req.url ?? '/', redirectUrl);
      if (back.pathname !== '/callback') return void res.writeHead(404).end();
      const code = back.searchParams.get('code');
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(code ? 'Signed in: you can close this tab.' : 'Access was not granted.');
      server.close();
      if (code) resolve(code);
      else reject(new Error(`authorization failed: ${back.searchParams.get('error')} ${back.searchParams.get('error_description') ?? ''}`));
    });
    server.listen(callbackPort, '127.0.0.1');
  });
}

const client = await connect(serverUrl, provider, authorizeInBrowser);
const how = process.env.CLIENT_METADATA_URL ? 'its metadata document' : process.env.CLIENT_ID ? 'pre-registered' : 'registered itself (RFC 7591)';
console.log(`client_id ${provider.clientInformation()?.client_id}: ${how}`);
const { tools } = await client.listTools();
console.log(`tools: ${tools.map((t) => t.name).join(', ')}`);
console.log(JSON.stringify(await client.callTool({ name: 'place_order', arguments: { item: 'coffee beans', quantity: 2 } })));
console.log(JSON.stringify(await client.callTool({ name: 'list_orders', arguments: {} })));
await client.close();
