import { readAuthorizationRequest, type AuthorizationRequest } from '../authorize/authorization-request.ts';
import { toClientIfUnavailable } from '../authorize/authorization-response.ts';
import { decideNextStep, type NextStep } from '../authorize/decide.ts';
import { usePushedRequest, withPushedProof } from '../authorize/pushed-request.ts';
import type { ServerContext } from '../context.ts';
import type { FormParams } from '../lib/form-params.ts';
import type { Session } from '../storage/session-store.ts';

/**
 * The authorization endpoint (OAuth 2.1 §4.1.1, OIDC Core §3.1.2.1) over the request's parameters and
 * the browser's session: the request validated (authorize/authorization-request.ts: a bad client or
 * redirect URI throws for an error page, anything else for a redirect back to the client), or, for a
 * request_uri of a pushed request (RFC 9126 §4), the pushed request, spent and validated again; then the
 * next step: the login page, the consent page, or back to the client with a code (authorize/decide.ts).
 * The HTTP shell (http/browser-routes.ts) turns the step into a redirect.
 */
export async function authorizationEndpoint(
  ctx: ServerContext,
  params: FormParams,
  session: Session | undefined,
): Promise<{ request: AuthorizationRequest; next: NextStep }> {
  const pushed = await usePushedRequest(ctx, params);
  // RFC 9126 §4: "The authorization server MUST validate authorization requests arising from a pushed
  // request as it would any other authorization request."
  const request = pushed
    ? withPushedProof(ctx, await readAuthorizationRequest(ctx, pushed, 'pushed'))
    : await readAuthorizationRequest(ctx, params, 'front-channel');
  const next = await toClientIfUnavailable(request, () => decideNextStep(ctx, request, session, false));
  return { request, next };
}
