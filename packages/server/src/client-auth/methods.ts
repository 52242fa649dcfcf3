/** Client authentication methods accepted where a confidential client must authenticate. */
export const CONFIDENTIAL_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/** RFC 8705 §2: client authentication by the certificate of the TLS connection (confidential clients). */
export const MTLS_AUTH_METHODS = ['tls_client_auth', 'self_signed_tls_client_auth'] as const;
