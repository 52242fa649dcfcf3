import { authenticateClient } from '../client-auth/authenticate.ts';
import type { ServerContext } from '../context.ts';
import { InvalidRequest, UnsupportedGrantType } from '../errors.ts';
import { GRANTS } from '../grants/index.ts';
import type { TokenResponse } from '../grants/token-response.ts';
import type { EndpointRequest } from './endpoint-request.ts';

/** RFC 6749 §3.2 token endpoint, as named steps: grant type, client authentication, grant handler. */
export async function tokenEndpoint(ctx: ServerContext, request: EndpointRequest): Promise<TokenResponse> {
  const grant = checkGrantType(request);
  // Public clients identify themselves (method `none`); each grant decides whether it serves them.
  const client = await authenticateClient(request, ctx, { allowPublic: true });
  const response = await grant.handle(ctx, client, request.params);
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
