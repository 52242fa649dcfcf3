import type { IncomingMessage } from 'node:http';
import { parseClientCertHeader, peerCertificate } from '@latchkey/resource-server';
import type { GatewayConfig } from './config/defaults.ts';
import { upstreamHeaders } from './lib/headers.ts';
import type { parseTarget } from './lib/path.ts';
import type { ProxyTarget } from './lib/proxy.ts';
import { rejection, rejectionFromReply, type Rejection } from './lib/reply.ts';
import { peerAddress } from './lib/trusted-proxies.ts';
import { RouteTable, type CompiledRoute } from './routes.ts';
import type { State } from './state.ts';

/** What to do with a request: forward it, or answer it here. */
export type Decision =
  | { route: CompiledRoute; clientId: string; target: ProxyTarget }
  | { route: CompiledRoute | undefined; clientId?: string; rejection: Rejection };

/** Route, method, token, rate limit, forwarding mode: the first that fails answers. */
export async function decide(req: IncomingMessage, current: State, target: ReturnType<typeof parseTarget>): Promise<Decision> {
  if ('error' in target) return { route: undefined, rejection: rejection(400, 'bad_request', 'invalid_request', target.error) };
  const route = current.table.match(target.path);
  if (!route) return { route, rejection: rejection(404, 'not_found', 'not_found', 'no route for this path') };
  const authenticate = route.methods.get(req.method!);
  if (!authenticate) {
    return {
      route,
      rejection: rejection(405, 'method_not_allowed', 'method_not_allowed', 'this route does not allow the method', {
        headers: { allow: route.allow },
        reason: 'method_not_allowed',
      }),
    };
  }
  const trustedPeer = current.trusted.has(req.socket.remoteAddress);
  const auth = await authenticate({
    authorization: req.headers.authorization,
    dpop: req.headers.dpop,
    method: req.method!,
    url: edgeUrl(current.config, req, target.path, trustedPeer),
    // RFC 9440 §4: Client-Cert is believed only from a proxy known to set it; otherwise the
    // certificate is the connection's own, when the gateway terminates TLS.
    clientCertificate: trustedPeer ? parseClientCertHeader(req.headers['client-cert']) : peerCertificate(req.socket),
  });
  if (!auth.ok) {
    const outcome = auth.reply.status === 503 ? 'unavailable' : 'denied';
    return { route, clientId: auth.clientId, rejection: rejectionFromReply(auth.reply, outcome, auth.reason) };
  }
  const clientId = auth.claims.client_id;
  const retryAfter = current.limiter?.take(clientId);
  if (retryAfter !== undefined) {
    return {
      route,
      clientId,
      rejection: rejection(429, 'rate_limited', 'too_many_requests', 'the client sent too many requests; try again later', {
        headers: { 'retry-after': String(retryAfter) },
        reason: 'rate_limited',
      }),
    };
  }
  const forwarding = await route.forward(auth.claims, auth.token, { scheme: auth.scheme, proof: typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined });
  if (!forwarding.ok) return { route, clientId, rejection: forwarding.rejection };
  const headers = upstreamHeaders(req.rawHeaders, {
    identityPrefix: current.identityPrefix,
    trustedPeer,
    peer: peerAddress(req.socket.remoteAddress),
    preserveHost: route.config.preserveHost,
    protocol: (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
    add: forwarding.add,
  });
  return {
    route,
    clientId,
    target: {
      origin: route.origin,
      path: RouteTable.upstreamPath(route, target.path, target.query),
      headers,
      timeoutMs: current.config.upstreamTimeoutSeconds * 1000,
    },
  };
}

/**
 * RFC 9449 §4.3 item 9: the URI the client addressed, which a proof's `htu` must name: the gateway's
 * `publicUrl` origin and the request's path; without one, what a trusted proxy says
 * (`X-Forwarded-Proto`, `X-Forwarded-Host`), else the connection and its `Host`.
 */
function edgeUrl(config: GatewayConfig, req: IncomingMessage, path: string, trustedPeer: boolean): string {
  if (config.publicUrl !== undefined) return `${new URL(config.publicUrl).origin}${path}`;
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim() || undefined;
  const proto = trustedPeer ? first(req.headers['x-forwarded-proto']) : undefined;
  const host = (trustedPeer ? first(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host;
  const scheme = proto ?? ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  return `${scheme}://${host ?? 'invalid'}${path}`;
}
