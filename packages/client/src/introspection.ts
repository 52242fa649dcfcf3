import * as oauth from 'oauth4webapi';
import type { ClientCore } from './lib/client-core.ts';

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
  await core.endpoint('introspection_endpoint', 'introspection');
  // RFC 7662 §2.2: "active REQUIRED. Boolean indicator of whether or not the presented token is
  // currently active" (oauth4webapi requires it).
  const body = await core.call(
    'the introspection endpoint',
    ({ as, client, auth, options: requestOptions }) =>
      oauth.introspectionRequest(as, client, auth, token, {
        ...requestOptions,
        ...(options.tokenTypeHint ? { additionalParameters: { token_type_hint: options.tokenTypeHint } } : {}),
      }),
    ({ as, client }, response) => oauth.processIntrospectionResponse(as, client, response),
    { dpop: false },
  );
  return body as IntrospectionResponse;
}
