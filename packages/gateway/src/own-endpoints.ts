import type { IncomingMessage, ServerResponse } from 'node:http';
import { OWN_PATHS } from './config/defaults.ts';
import type { Runtime, State } from './state.ts';

/** /healthz, /metrics and the JWKS; false for any other path. */
export async function serveOwnEndpoint(runtime: Runtime, path: string, req: IncomingMessage, res: ServerResponse, current: State): Promise<boolean> {
  const { metrics, signingKey } = runtime;
  let body: string;
  let headers: Record<string, string>;
  if (path === OWN_PATHS.health) {
    body = JSON.stringify({ status: 'ok' });
    headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  } else if (path === OWN_PATHS.jwks) {
    body = JSON.stringify(signingKey.jwks());
    headers = { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300' };
  } else if (path === OWN_PATHS.metrics && current.config.metrics) {
    body = await metrics.registry.metrics();
    headers = { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' };
  } else {
    return false;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return true;
  }
  res.writeHead(200, { ...headers, 'content-length': String(Buffer.byteLength(body)) }).end(req.method === 'HEAD' ? undefined : body);
  return true;
}
