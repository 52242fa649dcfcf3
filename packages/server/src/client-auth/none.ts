import type { FormParams } from '../lib/form-params.ts';
import type { PresentedCredentials } from './presented.ts';

/** A public client identifies itself with `client_id` alone (RFC 6749 §2.3, OAuth 2.1 §2.4). */
export function readNone(params: FormParams): PresentedCredentials | undefined {
  const clientId = params.get('client_id');
  return clientId === undefined ? undefined : { method: 'none', clientId };
}
