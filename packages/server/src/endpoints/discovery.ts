import { CONFIDENTIAL_AUTH_METHODS } from '../client-auth/methods.ts';
import type { ServerContext } from '../context.ts';
import { endpointUrl } from '../context.ts';
import { GRANTS } from '../grants/index.ts';


/** Endpoint paths under the issuer. */
export const PATHS = {
  token: '/token',
  introspection: '/introspect',
  revocation: '/revoke',
  jwks: '/jwks',
} as const;

/**
 * RFC 8414 §2 authorization server metadata, derived from what this server actually does: every grant
 * type, method and algorithm listed is one it accepts, and nothing it refuses is listed.
 */
export async function serverMetadata(ctx: ServerContext): Promise<Record<string, unknown>> {
  const { settings } = ctx;
  const grantTypes = [...GRANTS.keys()];
  return {
    // RFC 8414 §3.3: the issuer value returned MUST be identical to the issuer identifier.
    issuer: settings.issuer,
    token_endpoint: endpointUrl(settings, PATHS.token),
    jwks_uri: endpointUrl(settings, PATHS.jwks),
    scopes_supported: await ctx.storage.resources.allScopeNames(),
    // No grant that uses the authorization endpoint is enabled yet, so no response type is supported.
    response_types_supported: [],
    grant_types_supported: grantTypes,
    token_endpoint_auth_methods_supported: [...CONFIDENTIAL_AUTH_METHODS],
    introspection_endpoint: endpointUrl(settings, PATHS.introspection),
    introspection_endpoint_auth_methods_supported: [...CONFIDENTIAL_AUTH_METHODS],
    revocation_endpoint: endpointUrl(settings, PATHS.revocation),
    // `none` (public clients revoking their own tokens, RFC 7009 §2.1) is listed once a grant for
    // public clients exists: until then no client can use it.
    revocation_endpoint_auth_methods_supported: [...CONFIDENTIAL_AUTH_METHODS],
  };
}

/**
 * OpenID Connect Discovery 1.0 §3. The same truthful document; OIDC-only members (ID token algorithms,
 * subject types, userinfo) appear once the server issues ID tokens.
 */
export async function openIdConfiguration(ctx: ServerContext): Promise<Record<string, unknown>> {
  return serverMetadata(ctx);
}
