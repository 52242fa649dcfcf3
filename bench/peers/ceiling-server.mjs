// The ceiling of a token endpoint on this machine: Fastify parsing a form and answering with a freshly
// signed ES256 JWS (node:crypto on a KeyObject), and nothing else. No authentication, no storage.
// Usage: node ceiling-server.mjs PORT
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? 9500);
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'k' })).toString('base64url');
const app = Fastify({ logger: false });
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
  done(null, new URLSearchParams(body));
});
app.get('/ready', async () => ({ ok: true }));
app.post('/token', async () => {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: 'http://127.0.0.1', sub: 'c', aud: 'https://api.example.com', exp: now + 600, iat: now, jti: randomBytes(16).toString('base64url'), client_id: 'c', scope: 'orders:read' };
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return { access_token: `${input}.${signature.toString('base64url')}`, token_type: 'Bearer', expires_in: 600, scope: 'orders:read' };
});
await app.listen({ port, host: '127.0.0.1' });
