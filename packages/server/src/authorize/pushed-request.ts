import type { ServerContext } from '../context.ts';
import { FormParams } from '../lib/form-params.ts';
import { sha256 } from '../lib/random.ts';
import type { PushedParams } from '../storage/pushed-request-store.ts';
import { AUTHORIZATION_PARAMS, AuthorizationPageError, REQUEST_URI_PREFIX, type AuthorizationRequest } from './authorization-request.ts';
import { PAR_PROOF_PARAM, pushedProof } from './pushed-proof.ts';

/**
 * At /authorize: the parameters pushed under the request's request_uri (RFC 9126 §4), which the use
 * spends; or undefined when the request is no use of a pushed request, and is validated as it stands
 * (authorize/authorization-request.ts): any other request_uri is request_uri_not_supported, and one of
 * this server's with authorization parameters besides client_id is invalid_request, neither spending it.
 * (Unknown parameters are ignored as always, docs/security.md A8.)
 *
 * A request_uri that cannot be used (unknown, expired, used, another client's) is an error page, never
 * a redirect: the browser's request names no redirect URI of its own, and the pushed one is not known
 * (RFC 6749 §4.1.2.1).
 */
export async function usePushedRequest(ctx: ServerContext, params: FormParams): Promise<FormParams | undefined> {
  const requestUris = params.getAll('request_uri');
  if (requestUris.length !== 1 || !requestUris[0]!.startsWith(REQUEST_URI_PREFIX)) return undefined;
  if ([...AUTHORIZATION_PARAMS, 'request'].some((name) => name !== 'client_id' && params.getAll(name).length > 0)) return undefined;
  let clientId: string | undefined;
  try {
    clientId = params.get('client_id');
  } catch {
    throw new AuthorizationPageError('error.invalid.title', 'error.invalid.repeatsClientId');
  }
  if (clientId === undefined) throw new AuthorizationPageError('error.invalid.title', 'error.invalid.noClientId');
  // RFC 9126 §4: "Authorization servers SHOULD treat request_uri values as one-time use" and "An expired
  // request_uri MUST be rejected as invalid"; §2.2: "The request_uri value MUST be bound to the client
  // that posted the authorization request." One atomic statement spends it, for its own client only.
  const pushed = await ctx.storage.pushedRequests.consume(sha256(requestUris[0]!), clientId, ctx.now());
  if (!pushed) {
    throw new AuthorizationPageError('error.invalid.title', 'error.invalid.requestUri');
  }
  return formParams(pushed);
}

/** The request with the proof its pages carry that the client pushed it (authorize/pushed-proof.ts). */
export function withPushedProof(ctx: ServerContext, request: AuthorizationRequest): AuthorizationRequest {
  return { ...request, params: { ...request.params, [PAR_PROOF_PARAM]: pushedProof(ctx, request.params) } };
}

function formParams(pushed: PushedParams): FormParams {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(pushed)) for (const v of typeof value === 'string' ? [value] : value) body.append(name, v);
  return new FormParams(body.toString());
}
