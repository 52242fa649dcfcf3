import * as oauth from 'oauth4webapi';

/** How the client authenticates at the token, revocation, introspection, device and PAR endpoints. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'tls_client_auth' | 'self_signed_tls_client_auth' | 'none';

/** RFC 8705 §2: the methods in which the TLS client certificate is the proof (the SDK's `mtls` option). */
export const CERTIFICATE_METHODS: readonly ClientAuthMethod[] = ['tls_client_auth', 'self_signed_tls_client_auth'];

/**
 * The oauth4webapi client authentication for a method. `client_secret_basic` form-encodes the id and
 * secret before base64 (RFC 6749 §2.3.1); `none` sends only `client_id` (RFC 6749 §3.2.1, a public client
 * proving itself with PKCE); so do `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705 §2), whose
 * proof is the certificate of the TLS connection, which the server tells apart by the registration.
 */
export function clientAuthentication(method: ClientAuthMethod, clientSecret: string | undefined): oauth.ClientAuth {
  switch (method) {
    case 'client_secret_basic':
      return oauth.ClientSecretBasic(clientSecret ?? '');
    case 'client_secret_post':
      return oauth.ClientSecretPost(clientSecret ?? '');
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      return oauth.TlsClientAuth();
    case 'none':
      return oauth.None();
  }
}
