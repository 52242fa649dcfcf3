/**
 * A client_id URL whose metadata document cannot be used: refused by the SSRF guard, failed to arrive,
 * or broke a rule of draft-ietf-oauth-client-id-metadata-document. The message is for logs; the
 * authorization endpoint shows an error page, the token endpoint answers `invalid_client`.
 */
export class ClientMetadataError extends Error {
  override readonly name = 'ClientMetadataError';
}
