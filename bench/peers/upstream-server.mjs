// The API behind the gateways in the gateway scenario: node:http answering every request with a
// small JSON body, nothing else. Usage: node upstream-server.mjs PORT
// GET /ready answers 200 for the harness. Every other path answers the same body, so a proxy that
// rewrites or strips a path prefix still reaches it.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 9600);
const body = Buffer.from(JSON.stringify({ orders: [{ id: 'o-1', total: 42 }], ok: true }));
const server = createServer((req, res) => {
  // Drain any request body before answering, so keep-alive connections stay usable.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
