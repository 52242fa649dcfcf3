import { authenticateClient } from '../client-auth/authenticate.ts';
import type { ServerContext } from '../context.ts';
import type { ActClaim } from '../registry/types.ts';
import { findOwnAccessToken } from '../tokens/find-own-token.ts';
import { tokenTypeOf, type Confirmation } from '../tokens/confirmation.ts';
import type { EndpointRequest } from './endpoint-request.ts';

/** RFC 7662 §2.2 response. Inactive tokens are exactly `{"active": false}`. */
export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      /** RFC 9449 §6.2: `DPoP` for a DPoP-bound token. */
      token_type: 'Bearer' | 'DPoP';
      exp: number;
      iat: number;
      sub: string;
      aud: string | string[];
      iss: string;
      jti: string;
      /** RFC 8693 §4.1 (registered for introspection by §7.2): the actor of an exchanged token. */
      act?: ActClaim;
      /** RFC 9449 §6.2 and RFC 8705 §3.2: what the token is bound to, for the resource server to check. */
      cnf?: Confirmation;
      /** RFC 9470 §6.2: the user's authentication behind the token (OIDC Core §2), for step-up checks. */
      auth_time?: number;
      acr?: string;
      amr?: string[];
    };

const INACTIVE = Object.freeze({ active: false }) as { active: false };

/**
 * RFC 7662 §2.1: the caller must authenticate; it sees the tokens issued to itself, and, when it acts
 * for an API (`--introspect-for`), the tokens issued for that API. Anything unknown, expired, revoked,
 * malformed or not the caller's introspects as `{"active": false}` (§2.2).
 */
export async function introspectionEndpoint(ctx: ServerContext, request: EndpointRequest): Promise<IntrospectionResponse> {
  // RFC 7662 §2.1: "the endpoint MUST also require some form of authorization to access this endpoint".
  const client = await authenticateClient(request, ctx, { allowPublic: false });
  // RFC 7662 §2.1: `token` is REQUIRED; `token_type_hint` is OPTIONAL and only a hint.
  const token = request.params.require('token');
  request.params.get('token_type_hint');

  const found = await findOwnAccessToken(ctx, token);
  if (!found) return INACTIVE;
  const { claims } = found;
  // RFC 7662 §2.1: the caller is the token's own client, or the protected resource the token is for
  // (a client registered to act for that API). Any other caller cannot tell the token from an
  // unknown one.
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const mayIntrospect = claims.client_id === client.clientId || audience.some((a) => client.introspectsFor.includes(a));
  if (!mayIntrospect) return INACTIVE;
  return {
    active: true,
    scope: claims.scope ?? '',
    client_id: claims.client_id,
    token_type: tokenTypeOf(claims.cnf),
    exp: claims.exp,
    iat: claims.iat,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
    ...(claims.act ? { act: claims.act } : {}),
    ...(claims.cnf ? { cnf: claims.cnf } : {}),
    // RFC 9470 §6.2: "the authorization server SHOULD include the acr and auth_time ... in the introspection response".
    ...(claims.auth_time !== undefined ? { auth_time: claims.auth_time } : {}),
    ...(claims.acr !== undefined ? { acr: claims.acr } : {}),
    ...(claims.amr !== undefined ? { amr: claims.amr } : {}),
  };
}
