import * as oauth from 'oauth4webapi';
import { StepUpRequiredError } from './errors.ts';
import type { ResourceResponse } from './lib/resource-request.ts';

/** RFC 9470 §3: the error code of a step-up challenge. */
export const INSUFFICIENT_USER_AUTHENTICATION = 'insufficient_user_authentication';

/**
 * The step-up an API asks for (RFC 9470 §3), when its answer is one: a 401 whose Bearer (RFC 6750 §3)
 * or DPoP (RFC 9449 §7.1) challenge says `error="insufficient_user_authentication"`. Reads the
 * challenge's `acr_values` and `max_age`; undefined for any other answer.
 */
export function stepUpIn({ response, challenges }: ResourceResponse): StepUpRequiredError | undefined {
  if (response.status !== 401) return undefined;
  const challenge = challenges.find((c) => (c.scheme === 'bearer' || c.scheme === 'dpop') && c.parameters.error === INSUFFICIENT_USER_AUTHENTICATION);
  if (!challenge) return undefined;
  const { acr_values: acrValues, max_age: maxAge, error_description } = challenge.parameters;
  return new StepUpRequiredError(
    {
      scheme: challenge.scheme,
      // §3: "acr_values: A space-separated string listing the authentication context class reference
      // values in order of preference."
      acrValues: acrValues === undefined || acrValues.trim() === '' ? undefined : acrValues.split(' ').filter((v) => v !== ''),
      // §3: "max_age: Indicates the allowable elapsed time in seconds since the last active
      // authentication event". Anything but a number of seconds is not one, and is left out.
      maxAge: maxAge !== undefined && /^\d{1,10}$/.test(maxAge) ? Number(maxAge) : undefined,
      error_description,
    },
    response,
  );
}

/**
 * The StepUpRequiredError of an API's answer you fetched yourself (with the token from
 * `getAccessToken()`), or undefined when the answer is not an RFC 9470 challenge. The SDK's own
 * `authorizedFetch` (TokenSession, the BFF's) throws it instead.
 *
 * @example
 * const res = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } });
 * const stepUp = await stepUpChallenge(res);
 * if (stepUp) return startLogin(stepUp.authorizationOptions());
 */
export async function stepUpChallenge(response: Response): Promise<StepUpRequiredError | undefined> {
  if (response.status !== 401) return undefined;
  return stepUpIn({ response, challenges: await challengesOf(response) });
}

/**
 * The challenges of a response's WWW-Authenticate header (RFC 9110 §11.6.1), parsed by oauth4webapi.
 * oauth4webapi 3.8.8 does not export its parser; it applies it to the answer of protectedResourceRequest
 * and throws the challenges in a WWWAuthenticateChallengeError. So the answer at hand is handed to
 * protectedResourceRequest as what its fetch returned: nothing is sent, and the body is not read.
 */
async function challengesOf(response: Response): Promise<oauth.WWWAuthenticateChallenge[]> {
  let url: URL;
  try {
    url = new URL(response.url);
  } catch {
    url = new URL('https://resource.invalid/');
  }
  try {
    await oauth.protectedResourceRequest('unused', 'GET', url, new Headers(), null, {
      [oauth.customFetch]: async () => response,
      [oauth.allowInsecureRequests]: true,
    });
  } catch (err) {
    if (err instanceof oauth.WWWAuthenticateChallengeError) return err.cause;
    throw err;
  }
  return [];
}
