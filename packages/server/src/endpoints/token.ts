import { authenticateClient } from '../client-auth/authenticate.ts';
import type { ServerContext } from '../context.ts';
import { checkRequestProof } from '../dpop/proofs.ts';
import { InvalidDpopProof, InvalidRequest, UnsupportedGrantType } from '../errors.ts';
import { GRANTS } from '../grants/index.ts';
import type { TokenResponse } from '../grants/token-response.ts';
import type { Client } from '../registry/types.ts';
import type { SenderProof } from '../tokens/confirmation.ts';
import { checkFapi2TokenRequest, jwtPolicyFor } from '../profiles/fapi2.ts';
import type { EndpointRequest } from './endpoint-request.ts';
import { annotateSpan } from '../observability/tracing.ts';

/** RFC 6749 §3.2 token endpoint, as named steps: grant type, client authentication, sender proof, grant handler. */
export async function tokenEndpoint(ctx: ServerContext, request: EndpointRequest): Promise<TokenResponse> {
  const grant = checkGrantType(request);
  // Public clients identify themselves (method `none`); each grant decides whether it serves them.
  const client = await authenticateClient(request, ctx, { allowPublic: true });
  // The client id is public (it is in every token); the request span names it, never a secret.
  annotateSpan({ 'oauth.client_id': client.clientId });
  const sender = await senderProof(ctx, request, client);
  checkFapi2TokenRequest(client, sender);
  const response = await grant.handle(ctx, client, request.params, sender);
  // The one place every grant's tokens leave from (README "Metrics and traces").
  ctx.metrics.tokensIssued.inc({ grant_type: grant.grantType });
  // A self-registered client that never obtains a token is purged (janitor.ts): note that this one did.
  // Bookkeeping only: the tokens are issued already, so a failure here must not lose them.
  if (client.source === 'dynamic-registration') {
    await ctx.storage.registrations
      .recordUse(client.clientId, ctx.now())
      .catch((err: unknown) => ctx.logger.warn({ err, clientId: client.clientId }, 'could not record the use of a registered client'));
  }
  return response;
}

function checkGrantType(request: EndpointRequest) {
  const grantType = request.params.get('grant_type');
  if (grantType === undefined) throw new InvalidRequest('the grant_type parameter is required');
  // RFC 6749 §5.2 unsupported_grant_type: "not supported by the authorization server". This includes
  // `password` and `implicit`, which OAuth 2.1 removed and Latchkey never offers.
  const grant = GRANTS.get(grantType);
  // The value is not echoed: error descriptions never reflect caller input.
  if (!grant) throw new UnsupportedGrantType('the grant type is not supported', grantType.slice(0, 100));
  return grant;
}

/**
 * What the request proves about its sender: the key of a valid DPoP proof (RFC 9449 §5), which every
 * grant binds its access token to. Checked after client authentication, so only a known client's
 * proofs reach the replay store.
 */
async function senderProof(ctx: ServerContext, request: EndpointRequest, client: Client): Promise<SenderProof> {
  const { dpopAlgorithms, clockToleranceSeconds } = jwtPolicyFor(client);
  const proof = await checkRequestProof(ctx, {
    proof: request.dpop,
    method: 'POST',
    url: (request.urls ?? ctx.urls).endpoint('token'),
    algorithms: dpopAlgorithms,
    clockToleranceSeconds,
  });
  // RFC 9449 §5.2: with dpop_bound_access_tokens true, "the authorization server MUST reject token
  // requests from this client that do not contain the DPoP header".
  if (!proof && client.dpopBoundAccessTokens) throw new InvalidDpopProof('this client must send a DPoP proof with every token request');
  const sender: SenderProof = proof ? { dpopJkt: proof.jkt } : {};
  // RFC 8705 §3: a client registered with tls_client_certificate_bound_access_tokens gets tokens bound
  // to the certificate of its TLS connection (§3.1 `cnf.x5t#S256`), and so must present one.
  if (client.tlsClientCertificateBoundAccessTokens && !request.certificate) {
    throw new InvalidRequest('the tokens of this client are bound to its certificate: send the request over mutual TLS');
  }
  // FAPI 2.0 §5.3.2.1 item 4: "shall only issue sender-constrained access tokens". A FAPI client that
  // sends no DPoP proof over mutual TLS has its tokens bound to its certificate (item 5, RFC 8705 §3),
  // registered for that or not; with neither, checkFapi2TokenRequest refuses the request.
  const fapiOverMtls = client.profile === 'fapi2' && !proof;
  if (request.certificate && (client.tlsClientCertificateBoundAccessTokens || fapiOverMtls)) {
    sender.certificateThumbprint = request.certificate.thumbprint;
  }
  return sender;
}
