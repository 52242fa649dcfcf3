// The floor of a reverse proxy in Node on this machine: node:http in, node:http out over kept-alive
// connections, headers copied, no token check, no logging. Usage: node proxy-floor-server.mjs PORT UPSTREAM_URL
import { Agent, createServer, request } from 'node:http';

const port = Number(process.argv[2] ?? 9700);
const upstream = new URL(process.argv[3] ?? 'http://127.0.0.1:9600');
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

const server = createServer((req, res) => {
  const headers = { ...req.headers, host: upstream.host };
  delete headers.authorization;
  const out = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  out.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  req.pipe(out);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
