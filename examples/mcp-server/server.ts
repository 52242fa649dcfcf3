import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { z } from 'zod';
import { type AccessTokenClaims, createValidator } from '@latchkey/resource-server';
import { bearerAuth, protectedResourceMetadata, requireScopes } from '@latchkey/resource-server/express';

/**
 * An MCP server (Streamable HTTP, stateless) whose tools need scopes, guarded by Latchkey tokens:
 * - every request to /mcp needs a valid access token whose `aud` is this server (RFC 8707, RFC 9068);
 * - a tool call needs that tool's scope; a token without it gets 403 insufficient_scope with the
 *   scope to ask for (the MCP authorization spec's step-up);
 * - /.well-known/oauth-protected-resource/mcp (RFC 9728) tells clients which authorization server to use.
 */
export interface McpServerOptions {
  /** Latchkey's issuer identifier. */
  issuer: string;
  /** This server's canonical URL (its resource identifier at Latchkey), e.g. http://localhost:3001/mcp. */
  url: string;
  /** Where to listen; default 127.0.0.1 and the URL's port. */
  host?: string;
  port?: number;
  /** The scope each tool needs (default TOOL_SCOPES); the scopes must be registered for this resource. */
  toolScopes?: Record<ToolName, string>;
}

/** Which scope each tool needs (named apart from the quick start's orders API: a scope belongs to one resource). */
export const TOOL_SCOPES = { list_orders: 'mcp:orders:read', place_order: 'mcp:orders:write' } as const;
export type ToolName = keyof typeof TOOL_SCOPES;

/** The shop's orders, per user (`sub`); in memory, as an example. */
const orders = new Map<string, { id: number; item: string; quantity: number }[]>();

function ordersServer(scopes: Record<ToolName, string>): McpServer {
  const server = new McpServer({ name: 'latchkey-orders', version: '1.0.0' });
  server.registerTool(
    'list_orders',
    { title: 'List my orders', description: `The signed-in user's orders (needs ${scopes.list_orders}).` },
    async (extra) => {
      const mine = orders.get(userOf(extra.authInfo)) ?? [];
      return { content: [{ type: 'text', text: JSON.stringify(mine) }] };
    },
  );
  server.registerTool(
    'place_order',
    {
      title: 'Place an order',
      description: `Orders an item for the signed-in user (needs ${scopes.place_order}).`,
      inputSchema: { item: z.string().min(1).max(100), quantity: z.number().int().min(1).max(100) },
    },
    async ({ item, quantity }, extra) => {
      const user = userOf(extra.authInfo);
      const mine = orders.get(user) ?? [];
      const order = { id: mine.length + 1, item, quantity };
      orders.set(user, [...mine, order]);
      return { content: [{ type: 'text', text: `order ${order.id}: ${quantity} × ${item}` }] };
    },
  );
  return server;
}

function userOf(auth: AuthInfo | undefined): string {
  const sub = auth?.extra?.sub;
  if (typeof sub !== 'string') throw new Error('no user behind this token');
  return sub;
}

/** The SDK's view of a verified Latchkey token. */
function authInfo(token: string, claims: AccessTokenClaims, resource: string): AuthInfo {
  return {
    token,
    clientId: claims.client_id,
    scopes: claims.scope,
    expiresAt: claims.exp,
    resource: new URL(resource),
    extra: { sub: claims.sub },
  };
}

export async function startMcpServer(options: McpServerOptions): Promise<{ url: string; close(): Promise<void> }> {
  const url = new URL(options.url);
  const host = options.host ?? '127.0.0.1';
  // DNS rebinding protection (the SDK's): only the host names this server is reached by.
  const app = createMcpExpressApp({ host, allowedHosts: [url.hostname, host] });
  const validator = createValidator({ issuer: options.issuer, audience: options.url });
  // RFC 9728 §5.1: every 401 and 403 points at the metadata, so a client finds Latchkey from a refusal.
  const auth = bearerAuth(validator, { resourceMetadata: true });
  const scopes = options.toolScopes ?? TOOL_SCOPES;
  const toolScope = new Map(Object.entries(scopes).map(([tool, scope]) => [tool, requireScopes(scope)]));

  app.use(
    protectedResourceMetadata({
      resource: options.url,
      authorizationServers: [options.issuer],
      scopesSupported: [...new Set(Object.values(scopes))],
      resourceName: 'Latchkey example orders (MCP)',
    }),
  );

  app.all(url.pathname, auth, (req: Request, res: Response, next) => {
    // The scope of the tool being called, checked before the call runs.
    const body = req.body as { method?: unknown; params?: { name?: unknown } } | undefined;
    const check = body?.method === 'tools/call' && typeof body.params?.name === 'string' ? toolScope.get(body.params.name) : undefined;
    if (check) return check(req, res, next);
    next();
  });

  app.all(url.pathname, async (req: Request, res: Response) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
    const server = ordersServer(scopes);
    // Stateless: one server and transport per request, no session id.
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(Object.assign(req, { auth: authInfo(token, req.auth, options.url) }), res, req.body);
  });

  const listening: Server = await new Promise((resolve) => {
    const s = app.listen(options.port ?? Number(url.port || 80), host, () => resolve(s));
  });
  const port = (listening.address() as AddressInfo).port;
  return {
    url: `${url.protocol}//${url.hostname}:${port}${url.pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        listening.closeAllConnections();
        listening.close(() => resolve());
      }),
  };
}
