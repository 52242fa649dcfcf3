import type { Client, Resource, TokenExchangePolicy } from '../registry/types.ts';
import { tlsSubjectMetadata } from '../mtls/subject.ts';

/**
 * The JSON of resources and clients as administrators see them: `latchkey ... --json` prints these,
 * and the admin API answers with them (docs/admin-api.md). Never a secret or its hash.
 */

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** A resource (an API) as shown to admins. */
export function resourceJson(r: Resource) {
  return {
    identifier: r.identifier,
    name: r.name,
    scopes: r.scopes.map((s) => s.scope),
    default_scopes: r.scopes.filter((s) => s.isDefault).map((s) => s.scope),
    open_scopes: r.scopes.filter((s) => s.openToRegisteredClients).map((s) => s.scope),
    scope_descriptions: Object.fromEntries(r.scopes.filter((s) => s.description).map((s) => [s.scope, s.description])),
    access_token_ttl_seconds: r.accessTokenTtlSeconds,
    access_token_format: r.accessTokenFormat,
    created_at: iso(r.createdAt),
  };
}

/** A token exchange policy as shown to admins. */
export function exchangeJson(p: TokenExchangePolicy) {
  return { audience: p.audience, scopes: p.scopes };
}

/** A client as shown to admins: never the secret or its hash. */
export function clientJson(c: Client) {
  return {
    client_id: c.clientId,
    name: c.name,
    type: c.type,
    token_endpoint_auth_method: c.tokenEndpointAuthMethod,
    grant_types: c.grantTypes,
    scopes: [...c.oidcScopes, ...c.scopes.map((s) => s.scope)],
    audiences: c.audiences.map((a) => a.identifier),
    redirect_uris: c.redirectUris,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    first_party: c.firstParty,
    source: c.source,
    id_token_signed_response_alg: c.idTokenSignedResponseAlg,
    introspect_for: c.introspectsFor,
    jwks_uri: c.jwksUri,
    jwks: c.jwks,
    refresh_grace_seconds: c.refreshGraceSeconds,
    dpop_bound_access_tokens: c.dpopBoundAccessTokens,
    ...(c.tlsClientAuth ? tlsSubjectMetadata(c.tlsClientAuth) : {}),
    tls_client_certificate_bound_access_tokens: c.tlsClientCertificateBoundAccessTokens,
    require_pushed_authorization_requests: c.requirePushedAuthorizationRequests,
    require_second_factor: c.requireSecondFactor === true,
    require_passkey: c.requirePasskey === true,
    profile: c.profile,
    backchannel_logout_uri: c.backchannelLogoutUri ?? null,
    backchannel_logout_session_required: c.backchannelLogoutSessionRequired === true,
    created_at: iso(c.createdAt),
    secret_rotated_at: c.secretRotatedAt === null ? null : iso(c.secretRotatedAt),
  };
}
