import type { FormParams } from '../lib/form-params.ts';
import type { PresentedCredentials } from './presented.ts';

/** RFC 6749 §2.3.1: `client_id` and `client_secret` in the request body. */
export function readClientSecretPost(params: FormParams): PresentedCredentials | undefined {
  const secret = params.get('client_secret');
  if (secret === undefined) return undefined;
  const clientId = params.get('client_id');
  if (clientId === undefined) return undefined;
  return { method: 'client_secret_post', clientId, secret };
}
