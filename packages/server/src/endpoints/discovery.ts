import { ADMIN_SCOPES } from '../admin/admin-resource.ts';
import { CLIENT_ASSERTION_ALGORITHMS } from '../client-auth/client-keys.ts';
import { CONFIDENTIAL_AUTH_METHODS, MTLS_AUTH_METHODS } from '../client-auth/methods.ts';
import { mtlsSettings } from '../mtls/client-certificate.ts';
import type { ServerContext } from '../context.ts';
import { GRANTS } from '../grants/index.ts';
import { PKCE_METHODS } from '../authorize/pkce.ts';
import { OIDC_SCOPES } from '../registry/oidc-scopes.ts';
import { DPOP_ALGORITHMS } from '../dpop/proofs.ts';
import { ACR_VALUES_SUPPORTED } from '../users/authentication-context.ts';



/**
 * RFC 8414 §2 authorization server metadata, derived from what this server actually does: every grant
 * type, method and algorithm listed is one it accepts, and nothing it refuses is listed.
 */
export async function serverMetadata(ctx: ServerContext): Promise<Record<string, unknown>> {
  const { settings, urls } = ctx;
  const grantTypes = [...GRANTS.keys()];
  // RFC 8414 §2 scopes_supported: "Servers MAY choose not to advertise some supported scope values";
  // the admin API's scopes (admin/admin-resource.ts) are for operators, not for applications.
  const apiScopes = (await ctx.storage.resources.allScopeNames()).filter((s) => !ADMIN_SCOPES.includes(s));
  const mtls = mtlsSettings(settings);
  // RFC 8705 §2: the certificate methods are offered only where a certificate can reach the server.
  const authMethods = mtls.enabled ? [...CONFIDENTIAL_AUTH_METHODS, ...MTLS_AUTH_METHODS] : [...CONFIDENTIAL_AUTH_METHODS];
  return {
    // RFC 8414 §3.3: the issuer value returned MUST be identical to the issuer identifier.
    issuer: settings.issuer,
    authorization_endpoint: urls.endpoint('authorization'),
    token_endpoint: urls.endpoint('token'),
    // RFC 9126 §5: where clients push authorization requests, and whether they must.
    pushed_authorization_request_endpoint: urls.endpoint('pushedAuthorization'),
    require_pushed_authorization_requests: settings.requirePar,
    jwks_uri: urls.endpoint('jwks'),
    scopes_supported: [...OIDC_SCOPES, ...apiScopes],
    // OAuth 2.1 §10.1: the code flow only.
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: grantTypes,
    // docs/security.md B23: S256 only; plain is refused, so it is not listed.
    code_challenge_methods_supported: [...PKCE_METHODS],
    // RFC 9207 §3: every authorization response carries `iss` (docs/security.md A12).
    authorization_response_iss_parameter_supported: true,
    // Public clients authenticate with `none` (and PKCE) at the token endpoint.
    token_endpoint_auth_methods_supported: [...authMethods, 'none'],
    // RFC 8414 §2: the algorithms private_key_jwt assertions may be signed with (never none or HS*).
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGORITHMS],
    // RFC 8628 §4.
    device_authorization_endpoint: urls.endpoint('deviceAuthorization'),
    introspection_endpoint: urls.endpoint('introspection'),
    introspection_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGORITHMS],
    revocation_endpoint: urls.endpoint('revocation'),
    // RFC 7009 §2.1: public clients revoke their own tokens by client_id.
    revocation_endpoint_auth_methods_supported: [...authMethods, 'none'],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGORITHMS],
    // RFC 9449 §5.1: the algorithms accepted for DPoP proofs (token endpoint and userinfo).
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    // draft-ietf-oauth-client-id-metadata-document §6: a server that supports client_id URLs "MUST
    // include" it (client-metadata/find-client.ts).
    ...(settings.clientMetadataDocuments !== 'off' ? { client_id_metadata_document_supported: true } : {}),
    // RFC 8414 §2 / RFC 7591 §3: listed only when clients may register themselves.
    ...(settings.registration !== 'off' ? { registration_endpoint: urls.endpoint('registration') } : {}),
    // RFC 8705 §3.3 and §5: certificate-bound tokens, and where the endpoints take client certificates.
    ...(mtls.enabled && mtls.urls
      ? {
          tls_client_certificate_bound_access_tokens: true,
          mtls_endpoint_aliases: {
            token_endpoint: mtls.urls.endpoint('token'),
            pushed_authorization_request_endpoint: mtls.urls.endpoint('pushedAuthorization'),
            introspection_endpoint: mtls.urls.endpoint('introspection'),
            revocation_endpoint: mtls.urls.endpoint('revocation'),
            device_authorization_endpoint: mtls.urls.endpoint('deviceAuthorization'),
            userinfo_endpoint: mtls.urls.endpoint('userinfo'),
          },
        }
      : {}),
  };
}

/**
 * OpenID Connect Discovery 1.0 §3: the same truthful document with the OpenID Connect members.
 */
export async function openIdConfiguration(ctx: ServerContext): Promise<Record<string, unknown>> {
  const { urls } = ctx;
  return {
    ...(await serverMetadata(ctx)),
    userinfo_endpoint: urls.endpoint('userinfo'),
    end_session_endpoint: urls.endpoint('endSession'),
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    // OIDC Discovery §3: "Languages and scripts supported for the user interface, represented as a JSON
    // array of BCP47 [RFC5646] language tag values."
    ui_locales_supported: ctx.languages.supported,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'amr', 'nonce', 'at_hash', 'azp', 'sid', 'name', 'preferred_username', 'email', 'email_verified'],
    // OIDC Discovery §3: "JSON array containing a list of the Authentication Context Class References
    // that this OP supports" (users/authentication-context.ts).
    acr_values_supported: [...ACR_VALUES_SUPPORTED],
    prompt_values_supported: ['none', 'login', 'consent'],
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
    // Back-Channel Logout §2.1: logout tokens are posted to clients' backchannel_logout_uri, and carry
    // `sid`, as ID tokens do (logout/backchannel-outbox.ts).
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
  };
}
