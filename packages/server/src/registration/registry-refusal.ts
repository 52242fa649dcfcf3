import { RegistryError } from '../errors.ts';
import { RedirectUriRejected } from '../registry/registry.ts';
import { InvalidClientMetadata, InvalidRedirectUri } from './errors.ts';

/**
 * A registry rule that the metadata broke, as the RFC 7591 §3.2.2 error: `invalid_redirect_uri` for a
 * redirect URI, `invalid_client_metadata` for anything else. A conflict (a scope deleted meanwhile) is
 * the same to the client: what it asked for cannot be registered. Anything else is rethrown.
 */
export function asRegistrationError(err: unknown): unknown {
  if (err instanceof RedirectUriRejected) return new InvalidRedirectUri(err.message);
  if (err instanceof RegistryError && err.code !== 'not_found') return new InvalidClientMetadata(err.message);
  return err;
}
