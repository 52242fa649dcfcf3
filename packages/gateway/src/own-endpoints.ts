import type { IncomingMessage, ServerResponse } from 'node:http';
import { protectedResourceMetadataReply } from '@latchkey/resource-server';
import { OWN_PATHS } from './config/defaults.ts';
import type { Runtime, State } from './state.ts';

/** /healthz, /metrics, the JWKS and the routes' protected resource metadata; false for any other path. */
export async function serveOwnEndpoint(runtime: Runtime, path: string, req: IncomingMessage, res: ServerResponse, current: State): Promise<boolean> {
  const { metrics, signingKey } = runtime;
  if (current.config.resourceMetadata && (path === OWN_PATHS.resourceMetadata || path.startsWith(`${OWN_PATHS.resourceMetadata}/`))) {
    serveMetadata(path, req, res, current);
    return true;
  }
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

/**
 * A route's protected resource metadata (RFC 9728 §3.2) at the well-known path followed by its prefix,
 * readable from any origin (a browser client discovers the issuer with it); 404 under that path for
 * anything else.
 */
function serveMetadata(path: string, req: IncomingMessage, res: ServerResponse, current: State): void {
  const document = current.table.metadataAt(path);
  if (document === undefined) {
    const body = JSON.stringify({ error: 'not_found', error_description: 'no protected resource metadata at this path' });
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(body)) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const reply = protectedResourceMetadataReply(document, { method: req.method!, accessControlRequestHeaders: req.headers['access-control-request-headers'] });
  const length = reply.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(reply.body)) };
  res.writeHead(reply.status, { ...reply.headers, ...length }).end(reply.body);
}
