import { authenticateClient } from '../client-auth/authenticate.ts';
import type { ServerContext } from '../context.ts';
import { findOwnAccessToken } from '../tokens/find-own-token.ts';
import type { EndpointRequest } from './endpoint-request.ts';

/** RFC 7662 §2.2 response. Inactive tokens are exactly `{"active": false}`. */
export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      token_type: 'Bearer';
      exp: number;
      iat: number;
      sub: string;
      aud: string | string[];
      iss: string;
      jti: string;
    };

const INACTIVE = Object.freeze({ active: false }) as { active: false };

/**
 * RFC 7662 §2.1: the caller must authenticate; it sees only tokens issued to itself. Anything unknown,
 * expired, revoked, malformed or not the caller's introspects as `{"active": false}` (§2.2).
 */
export async function introspectionEndpoint(ctx: ServerContext, request: EndpointRequest): Promise<IntrospectionResponse> {
  // RFC 7662 §2.1: "the endpoint MUST also require some form of authorization to access this endpoint".
  const client = await authenticateClient(request, ctx.storage.clients, { allowPublic: false });
  // RFC 7662 §2.1: `token` is REQUIRED; `token_type_hint` is OPTIONAL and only a hint.
  const token = request.params.require('token');
  request.params.get('token_type_hint');

  const found = await findOwnAccessToken(ctx, token);
  if (!found) return INACTIVE;
  const { claims } = found;
  // "a client sees only its own tokens": another client's token is indistinguishable from an unknown one.
  if (claims.client_id !== client.clientId) return INACTIVE;
  return {
    active: true,
    scope: claims.scope ?? '',
    client_id: claims.client_id,
    token_type: 'Bearer',
    exp: claims.exp,
    iat: claims.iat,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
  };
}
