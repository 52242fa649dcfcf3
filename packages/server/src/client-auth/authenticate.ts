import { ClientMetadataError } from '../client-metadata/errors.ts';
import { findClient } from '../client-metadata/find-client.ts';
import { InvalidClient, InvalidRequest } from '../errors.ts';
import type { FormParams } from '../lib/form-params.ts';
import { matchesHash, sha256 } from '../lib/random.ts';
import type { Client } from '../registry/types.ts';
import type { ServerContext } from '../context.ts';
import { readClientSecretBasic } from './client-secret-basic.ts';
import { readClientSecretPost } from './client-secret-post.ts';
import { readNone } from './none.ts';
import { readPrivateKeyJwt, verifyClientAssertion } from './private-key-jwt.ts';
import type { PresentedCredentials } from './presented.ts';
import { MTLS_AUTH_METHODS } from './methods.ts';
import type { PresentedCertificate } from '../mtls/client-certificate.ts';
import { verifyClientCertificate } from '../mtls/tls-client-auth.ts';

export interface AuthenticationInput {
  authorization: string | undefined;
  params: FormParams;
  /** Names of the query-string parameters, to refuse credentials sent there. */
  queryNames: readonly string[];
  /** The client certificate of the request (RFC 8705), when one came (mtls/client-certificate.ts). */
  certificate?: PresentedCertificate;
}

export interface AuthenticateOptions {
  /** Whether a public client (method `none`) is accepted at this endpoint. */
  allowPublic: boolean;
}

/** A hash no secret matches, compared against when the client is unknown so timing says nothing. */
const UNKNOWN_CLIENT_HASH = sha256('latchkey: no client has this secret');

/**
 * Works out which client is calling and proves it. Every failure is `invalid_client` (401), except a
 * malformed request, which is `invalid_request`.
 */
export async function authenticateClient(
  input: AuthenticationInput,
  ctx: ServerContext,
  options: AuthenticateOptions,
): Promise<Client> {
  // OAuth 2.1 §2.4.1: the client secret MUST NOT be included in the request URI.
  if (input.queryNames.includes('client_secret')) {
    throw new InvalidRequest('client credentials must not be sent in the query string');
  }
  const presented = readCredentials(input);
  if (!presented) throw new InvalidClient('client authentication is required');

  const fail = (detail: string) => new InvalidClient('client authentication failed', detail);
  // A client_id URL whose metadata document cannot be had is no client (client-metadata/find-client.ts).
  const client = await findClient(ctx, presented.clientId).catch((err: unknown) => {
    throw err instanceof ClientMetadataError ? fail(err.message) : err;
  });

  if (presented.secret !== undefined) {
    const ok = matchesHash(presented.secret, client?.secretHash ?? UNKNOWN_CLIENT_HASH);
    if (!client) throw fail('unknown client');
    if (!ok || client.secretHash === null) throw fail('wrong secret');
  } else if (!client) {
    throw fail('unknown client');
  }

  // RFC 8705 §2: a client that authenticates with its TLS certificate sends only its client_id in
  // the request ("the client_id parameter ... MUST be included"), as a public client would; which of
  // the two it is, its registration says.
  if (presented.method === 'none' && isMtlsMethod(client.tokenEndpointAuthMethod)) {
    await verifyClientCertificate(ctx, client, input.certificate);
    return client;
  }
  // The registered token_endpoint_auth_method is enforced (RFC 7591 §2): no other method is accepted.
  if (client.tokenEndpointAuthMethod !== presented.method) {
    throw fail(`client is registered for ${client.tokenEndpointAuthMethod}, used ${presented.method}`);
  }
  if (presented.method === 'none' && !options.allowPublic) {
    throw fail('public clients cannot authenticate at this endpoint');
  }
  // Checked after the method, so an assertion is verified (and its jti spent) only for its own kind of client.
  if (presented.assertion !== undefined) await verifyClientAssertion(ctx, client, presented.assertion);
  return client;
}

function readCredentials(input: AuthenticationInput): PresentedCredentials | undefined {
  const basic = readClientSecretBasic(input.authorization);
  const post = readClientSecretPost(input.params);
  const assertion = input.params.has('client_assertion') || input.params.has('client_assertion_type');
  // OAuth 2.1 §2.4: "The client MUST NOT use more than one authentication method in each request."
  if ([basic, post || input.params.has('client_secret'), assertion].filter(Boolean).length > 1) {
    throw new InvalidRequest('more than one client authentication method was used');
  }
  if (assertion) return readPrivateKeyJwt(input.params);
  if (basic) {
    const bodyClientId = input.params.get('client_id');
    if (bodyClientId !== undefined && bodyClientId !== basic.clientId) {
      throw new InvalidRequest('client_id in the body differs from the authenticated client');
    }
    return basic;
  }
  if (post) return post;
  if (input.params.has('client_secret')) throw new InvalidRequest('client_secret given without client_id');
  return readNone(input.params);
}

function isMtlsMethod(method: string): boolean {
  return (MTLS_AUTH_METHODS as readonly string[]).includes(method);
}
