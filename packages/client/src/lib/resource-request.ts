import * as oauth from 'oauth4webapi';
import type { FetchLike } from './http.ts';

/** An access token and how it is presented. */
export interface PresentedToken {
  accessToken: string;
  /** `Bearer`, or `DPoP` for a token bound to the DPoP key. */
  tokenType: string;
}

/** The API's answer, and the challenges of its WWW-Authenticate header (RFC 9110 §11.6.1), parsed by oauth4webapi. */
export interface ResourceResponse {
  response: Response;
  challenges: oauth.WWWAuthenticateChallenge[];
}

/**
 * One request to an API through oauth4webapi's protectedResourceRequest: `Authorization: Bearer`
 * (RFC 6750 §2.1), or for a DPoP token `Authorization: DPoP` with a proof of the method, the URL and
 * the token's hash `ath` (RFC 9449 §7.1). A DPoP `use_dpop_nonce` challenge is answered once with the
 * nonce the API sent (RFC 9449 §9: "the client ... retries the request with the new nonce"); the
 * second answer is returned whatever it is. Redirects are not followed: a proof is for one URL.
 */
export async function resourceRequest(
  request: Request,
  body: ArrayBuffer | null,
  token: PresentedToken,
  dpop: oauth.DPoPHandle | undefined,
  fetchImpl: FetchLike,
): Promise<ResourceResponse> {
  const bound = token.tokenType.toLowerCase() === 'dpop';
  if (bound && !dpop) throw new TypeError('a DPoP-bound access token needs the DPoP key it is bound to: create the LatchkeyClient with dpop');
  const send = async (): Promise<ResourceResponse & { error?: oauth.WWWAuthenticateChallengeError }> => {
    const headers = new Headers(request.headers);
    headers.delete('authorization');
    headers.delete('dpop');
    try {
      const response = await oauth.protectedResourceRequest(token.accessToken, request.method, new URL(request.url), headers, body, {
        [oauth.customFetch]: fetchImpl,
        // The API's URL is the application's choice, as with fetch itself.
        [oauth.allowInsecureRequests]: true,
        signal: request.signal,
        ...(bound ? { DPoP: dpop } : {}),
      });
      return { response, challenges: [] };
    } catch (err) {
      if (err instanceof oauth.WWWAuthenticateChallengeError) return { response: err.response, challenges: err.cause, error: err };
      throw err;
    }
  };
  const first = await send();
  if (!bound || !first.error || !oauth.isDPoPNonceError(first.error)) return first;
  await first.response.body?.cancel();
  const second = await send();
  return { response: second.response, challenges: second.challenges };
}

/** The body of a request, read once so that it can be sent again. */
export async function readBody(request: Request): Promise<ArrayBuffer | null> {
  return request.body === null ? null : request.arrayBuffer();
}

/** Whether the API refused the token itself: a 401 whose Bearer or DPoP challenge says `invalid_token` (RFC 6750 §3.1, RFC 9449 §7.1). */
export function isInvalidToken({ response, challenges }: ResourceResponse): boolean {
  return response.status === 401 && challenges.some((c) => (c.scheme === 'bearer' || c.scheme === 'dpop') && c.parameters.error === 'invalid_token');
}
