import { tlsSubjectMetadata } from '../mtls/subject.ts';
import type { ServerContext } from '../context.ts';
import type { Client } from '../registry/types.ts';
import type { DescriptiveMetadata } from './metadata.ts';

/** `registration_client_uri` (RFC 7592 §3): where the client reads, updates and deletes its registration. */
export function registrationClientUri(ctx: Pick<ServerContext, 'urls'>, clientId: string): string {
  return `${ctx.urls.endpoint('registration')}/${encodeURIComponent(clientId)}`;
}

/**
 * RFC 7591 §3.2.1 client information response (with RFC 7592 §3's management members): the client's
 * identifier, its credentials when there are new ones, and "all registered metadata about the client,
 * including any fields provisioned by the authorization server itself". The secret is stored only as
 * its hash, so it appears only when it was just issued (RFC 7592 §2.1 lets a read answer without it).
 */
export function clientInformation(
  ctx: Pick<ServerContext, 'urls'>,
  client: Client,
  descriptive: DescriptiveMetadata,
  credentials: { registrationAccessToken: string; clientSecret?: string },
): Record<string, unknown> {
  const hasSecret = client.secretHash !== null;
  return {
    client_id: client.clientId,
    ...(credentials.clientSecret !== undefined ? { client_secret: credentials.clientSecret } : {}),
    client_id_issued_at: client.createdAt,
    // RFC 7591 §3.2.1: REQUIRED if client_secret is issued; 0: it does not expire.
    ...(hasSecret ? { client_secret_expires_at: 0 } : {}),
    registration_access_token: credentials.registrationAccessToken,
    registration_client_uri: registrationClientUri(ctx, client.clientId),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    grant_types: client.grantTypes,
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: client.redirectUris,
    ...(client.postLogoutRedirectUris.length > 0 ? { post_logout_redirect_uris: client.postLogoutRedirectUris } : {}),
    scope: [...client.oidcScopes, ...client.scopes.map((s) => s.scope)].join(' '),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    dpop_bound_access_tokens: client.dpopBoundAccessTokens,
    ...(client.tlsClientAuth ? tlsSubjectMetadata(client.tlsClientAuth) : {}),
    tls_client_certificate_bound_access_tokens: client.tlsClientCertificateBoundAccessTokens,
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests,
    // Back-Channel Logout §2.2, as registered.
    ...(client.backchannelLogoutUri ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: client.backchannelLogoutSessionRequired === true } : {}),
    ...descriptive,
  };
}
