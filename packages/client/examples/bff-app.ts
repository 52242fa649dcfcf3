/**
 * A web app signing its users in with Latchkey as a backend-for-frontend: the browser holds only an
 * encrypted HttpOnly cookie; tokens stay on this server. node:http here; the same four calls fit Express
 * (`req`, `res`), Fastify (`request`, `reply.raw`) or any fetch-style framework (see the README).
 *
 *   LATCHKEY_ISSUER=http://localhost:9000 CLIENT_ID=... CLIENT_SECRET=... \
 *   COOKIE_KEY=$(node -p "crypto.randomBytes(32).toString('base64url')") \
 *     node --import tsx packages/client/examples/bff-app.ts
 *
 * Register the client with `--redirect-uris http://127.0.0.1:3000/callback` and
 * `--post-logout-redirect-uris http://127.0.0.1:3000/`, and open http://127.0.0.1:3000.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { appendSetCookie, createBff, LatchkeyClient, LatchkeyClientError, sendBffResponse } from '@latchkey/client';

export interface ShopAppOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where this app is reached, e.g. http://127.0.0.1:3000 (its callback is `${baseUrl}/callback`). */
  baseUrl: string;
  /** 32 bytes, base64url. */
  cookieKey: string;
  /** Cookies without Secure, for http://127.0.0.1 during development. Never in production. */
  insecureCookies?: boolean;
}

/** The app's request handler. */
export function createShopApp(options: ShopAppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const client = new LatchkeyClient({ issuer: options.issuer, clientId: options.clientId, clientSecret: options.clientSecret });
  const bff = createBff({
    client,
    redirectUri: `${options.baseUrl}/callback`,
    scope: 'openid profile offline_access orders:read',
    cookieKey: options.cookieKey,
    secure: !options.insecureCookies,
    postLogoutRedirectUri: `${options.baseUrl}/`,
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', options.baseUrl).pathname;
    if (req.method === 'GET' && path === '/') {
      const user = await bff.getUser(req);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(user ? `<p>Hello ${escape(user.name ?? user.sub)}</p><form method="post" action="/logout"><button>Sign out</button></form>` : '<a href="/login">Sign in</a>');
      return;
    }
    if (req.method === 'GET' && path === '/login') return sendBffResponse(res, await bff.login({ returnTo: '/' }));
    if (req.method === 'GET' && path === '/callback') return sendBffResponse(res, await bff.callback(req));
    if (req.method === 'POST' && path === '/logout') return sendBffResponse(res, await bff.logout(req));
    if (req.method === 'GET' && path === '/api/me') {
      // The browser's script calls this; the access token never leaves the server.
      const { accessToken, setCookie } = await bff.getAccessToken(req);
      appendSetCookie(res, setCookie);
      if (!accessToken) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'not signed in' }));
        return;
      }
      const userinfo = await fetch(`${options.issuer}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
      res.writeHead(userinfo.status, { 'content-type': 'application/json' });
      res.end(await userinfo.text());
      return;
    }
    res.writeHead(404);
    res.end();
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      // The SDK's errors say what went wrong (StateMismatchError, AuthorizationResponseError access_denied, ...).
      const status = err instanceof LatchkeyClientError ? 400 : 500;
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(err instanceof LatchkeyClientError ? `sign-in failed: ${err.code}` : 'server error');
    });
  };
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.env.PORT ?? 3000);
  const baseUrl = `http://127.0.0.1:${port}`;
  const handler = createShopApp({
    issuer: process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000',
    clientId: process.env.CLIENT_ID ?? '',
    clientSecret: process.env.CLIENT_SECRET ?? '',
    baseUrl,
    cookieKey: process.env.COOKIE_KEY ?? '',
    insecureCookies: true,
  });
  createServer(handler).listen(port, '127.0.0.1', () => console.log(`open ${baseUrl}`));
}
