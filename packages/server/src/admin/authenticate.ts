import type { ServerContext } from '../context.ts';
import { findOwnAccessToken } from '../tokens/find-own-token.ts';
import { ADMIN_READ, ADMIN_RESOURCE, ADMIN_WRITE } from './admin-resource.ts';
import { InsufficientAdminScope, Unauthenticated } from './problems.ts';

/** Who called the admin API: the client, and the user when the token is a person's (the console's). */
export interface AdminCaller {
  clientId: string;
  /** The token's `sub`: the client itself for client_credentials, else a user's id. */
  subject: string;
  scopes: string[];
}

/** Methods that only read: admin:read is enough (RFC 9110 §9.2.1 safe methods). */
const READING = new Set(['GET', 'HEAD']);

/**
 * Checks the admin API's access token: one of ours (signature and expiry, or the opaque store, and not
 * revoked: tokens/find-own-token.ts, as userinfo and introspection do), for `urn:latchkey:admin`,
 * with admin:read to read and admin:write to change.
 */
export async function authenticateAdmin(ctx: ServerContext, authorization: string | undefined, method: string): Promise<AdminCaller> {
  // RFC 6750 §3.1: "If the request lacks any authentication information ..., the resource server
  // SHOULD NOT include an error code or other error information."
  if (authorization === undefined || !/^bearer(\s|$)/i.test(authorization)) {
    if (authorization !== undefined && /^dpop(\s|$)/i.test(authorization)) throw new Unauthenticated('the admin API takes Bearer tokens only');
    throw new Unauthenticated('an access token for urn:latchkey:admin is required (Authorization: Bearer)', null);
  }
  // RFC 6750 §2.1: `Bearer` 1*SP b64token.
  const match = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  if (!match) throw new Unauthenticated('the Authorization header is not a well-formed bearer token');
  const found = await findOwnAccessToken(ctx, match[1]!);
  if (!found) throw new Unauthenticated('the access token is invalid, expired or revoked');
  const { claims } = found;
  // RFC 9449 §7.2 and RFC 8705 §3: a sender-constrained token presented as a bearer token is refused;
  // this API does not check proofs of possession, so it takes none.
  if (claims.cnf !== undefined) throw new Unauthenticated('the access token is sender-constrained: the admin API takes unbound bearer tokens only');
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audience.includes(ADMIN_RESOURCE)) throw new Unauthenticated(`the access token is not meant for ${ADMIN_RESOURCE}`);
  // Whoever the token stands for must still exist: a deleted client or a disabled user loses access at once.
  if (!(await ctx.storage.clients.find(claims.client_id))) throw new Unauthenticated('the client of the access token no longer exists');
  if (claims.sub !== claims.client_id) {
    const user = await ctx.storage.users.findById(claims.sub);
    if (!user || user.disabledAt !== null) throw new Unauthenticated('the user of the access token is unknown or disabled');
  }
  const scopes = (claims.scope ?? '').split(' ').filter((s) => s !== '');
  // RFC 6750 §3.1 insufficient_scope: "The request requires higher privileges than provided by the
  // access token."
  if (READING.has(method)) {
    if (!scopes.includes(ADMIN_READ) && !scopes.includes(ADMIN_WRITE)) throw new InsufficientAdminScope(ADMIN_READ);
  } else if (!scopes.includes(ADMIN_WRITE)) {
    throw new InsufficientAdminScope(ADMIN_WRITE);
  }
  return { clientId: claims.client_id, subject: claims.sub, scopes };
}
