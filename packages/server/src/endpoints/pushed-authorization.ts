import { AuthorizationPageError, AuthorizationRedirectError, readAuthorizationRequest, REQUEST_URI_PREFIX } from '../authorize/authorization-request.ts';
import { authenticateClient } from '../client-auth/authenticate.ts';
import type { ServerContext } from '../context.ts';
import { checkRequestProof } from '../dpop/proofs.ts';
import { InvalidRequest, UnauthorizedClient } from '../errors.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import type { EndpointRequest } from './endpoint-request.ts';
import { checkFapi2PushedRequest, jwtPolicyFor, pushedRequestLifetimeSeconds } from '../profiles/fapi2.ts';
import type { Client } from '../registry/types.ts';

/** RFC 9126 §2.2 successful response, sent with 201 Created. */
export interface PushedAuthorizationResponse {
  request_uri: string;
  expires_in: number;
}

/**
 * RFC 9126 §2 pushed authorization request endpoint, as named steps: client authentication, the
 * request's own client, no request_uri, the same validation as /authorize, then the request stored
 * under a new request_uri. Errors are JSON (RFC 9126 §2.3), never redirects.
 */
export async function pushedAuthorizationEndpoint(ctx: ServerContext, request: EndpointRequest): Promise<PushedAuthorizationResponse> {
  // RFC 9126 §2: "The rules for client authentication as defined in [RFC6749] for token endpoint
  // requests, including the applicable authentication methods, apply for the PAR endpoint as well."
  const client = await authenticateClient(request, ctx, { allowPublic: true });
  const { params } = request;
  // RFC 9126 §2.1: "as a required authorization request parameter, it [client_id] is similarly required
  // in a pushed authorization request"; the request is the authenticated client's own.
  if (params.get('client_id') !== client.clientId) throw new InvalidRequest('client_id is required and must name the authenticated client');
  // RFC 9126 §2.1: "The request_uri authorization request parameter is one exception, and it MUST NOT be provided."
  if (params.has('request_uri')) throw new InvalidRequest('request_uri must not be provided in a pushed authorization request');
  // RFC 6749 §4.1.2.1 unauthorized_client: "The client is not authorized to request an authorization code using this method."
  if (!client.grantTypes.includes('authorization_code')) throw new UnauthorizedClient('the client is not allowed the authorization code grant');
  checkFapi2PushedRequest(client, params);
  const authorization = await validate(ctx, request);
  const dpopJkt = await pushedProofKey(ctx, request, client, authorization.dpopJkt);
  if (dpopJkt !== undefined) authorization.params.dpop_jkt = dpopJkt;

  const requestUri = `${REQUEST_URI_PREFIX}${randomToken(32)}`;
  const now = ctx.now();
  const ttl = pushedRequestLifetimeSeconds(client, ctx.settings.parTtlSeconds);
  // The whole validated parameter set (dpop_jkt among them) is kept; the request_uri only as its hash.
  await ctx.storage.pushedRequests.insert({
    requestUriHash: sha256(requestUri),
    clientId: client.clientId,
    params: authorization.params,
    createdAt: now,
    expiresAt: now + ttl,
  });
  return { request_uri: requestUri, expires_in: ttl };
}

/**
 * RFC 9126 §2.1: the server must "validate the pushed request as it would an authorization request
 * sent to the authorization endpoint", with the authorization endpoint's own validator. Its errors
 * become JSON: RFC 9126 §2.3, "In those cases where Section 4.1.2.1 of [RFC6749] prohibits automatic
 * redirection with an error back to the requesting client and hence doesn't define an error code (for
 * example, when the request fails due to a missing, invalid, or mismatching redirection URI), the
 * invalid_request error code can be used as the default error code."
 */
async function validate(ctx: ServerContext, request: EndpointRequest) {
  try {
    return await readAuthorizationRequest(ctx, request.params, 'pushed');
  } catch (err) {
    if (err instanceof AuthorizationPageError) throw new InvalidRequest(err.explanation);
    if (err instanceof AuthorizationRedirectError) throw err.oauth;
    throw err;
  }
}

/**
 * RFC 9449 §10.1: a DPoP proof sent with the pushed request binds the authorization code to the
 * proof's key, exactly as `dpop_jkt` does; when both are sent they must name the same key. Undefined:
 * neither was sent.
 */
async function pushedProofKey(ctx: ServerContext, request: EndpointRequest, client: Client, dpopJkt: string | undefined): Promise<string | undefined> {
  const { dpopAlgorithms, clockToleranceSeconds } = jwtPolicyFor(client);
  const proof = await checkRequestProof(ctx, {
    proof: request.dpop,
    method: 'POST',
    url: (request.urls ?? ctx.urls).endpoint('pushedAuthorization'),
    algorithms: dpopAlgorithms,
    clockToleranceSeconds,
  });
  if (!proof) return dpopJkt;
  if (dpopJkt !== undefined && dpopJkt !== proof.jkt) throw new InvalidRequest('dpop_jkt does not match the key of the DPoP proof');
  return proof.jkt;
}
