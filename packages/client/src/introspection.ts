import { InvalidResponseError } from './errors.ts';
import type { ClientCore } from './lib/client-core.ts';
import { expectOk, readJsonObject } from './lib/http.ts';

/** RFC 7662 §2.2: an inactive token is `{ active: false }` and nothing else. */
export interface IntrospectionResponse {
  active: boolean;
  scope?: string;
  client_id?: string;
  username?: string;
  token_type?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
  sub?: string;
  aud?: string | string[];
  iss?: string;
  jti?: string;
  [claim: string]: unknown;
}

export interface IntrospectOptions {
  tokenTypeHint?: 'access_token' | 'refresh_token' | undefined;
}

/**
 * RFC 7662 §2.1: asks the server whether a token is active. The client must be confidential; Latchkey
 * answers about the client's own tokens, and about the tokens of the APIs it introspects for.
 */
export async function introspect(core: ClientCore, token: string, options: IntrospectOptions = {}): Promise<IntrospectionResponse> {
  const url = await core.endpoint('introspection_endpoint', 'introspection');
  const response = await core.post(url, { token, token_type_hint: options.tokenTypeHint });
  await expectOk(response, 'the introspection endpoint');
  const body = await readJsonObject(response, 'the introspection endpoint');
  // RFC 7662 §2.2: "active REQUIRED. Boolean indicator of whether or not the presented token is currently active."
  if (typeof body.active !== 'boolean') throw new InvalidResponseError('the introspection response has no boolean active', 200);
  return body as IntrospectionResponse;
}
