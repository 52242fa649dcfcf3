import { DEFAULTS } from './defaults.ts';
import { DeviceCodeExpiredError, InvalidResponseError, OAuthError, UnsupportedFeatureError } from './errors.ts';
import type { ClientCore } from './lib/client-core.ts';
import { errorFromResponse, readJsonObject } from './lib/http.ts';
import { sleep } from './lib/retry.ts';
import { optionalLifetime, optionalString, parseTokenResponse, type TokenSet } from './token-set.ts';

/** RFC 8628 §3.4: the grant type of the device access token request. */
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DeviceAuthorizationOptions {
  /** Space-separated scopes. */
  scope?: string | undefined;
  /** Other parameters, sent as they are (e.g. `resource`). */
  [parameter: string]: string | readonly string[] | undefined;
}

/** RFC 8628 §3.2: what to show the user, and what to poll with. */
export interface DeviceAuthorization {
  deviceCode: string;
  /** The code the user types at `verificationUri`. */
  userCode: string;
  verificationUri: string;
  /** The same page with the code filled in (for a QR code), when the server gives one. */
  verificationUriComplete?: string | undefined;
  /** When the codes expire, in seconds since the epoch. */
  expiresAt: number;
  /** How long to wait between two polls, in seconds. */
  intervalSeconds: number;
}

export interface PollOptions {
  /** Stops polling (the promise rejects with the signal's reason). */
  signal?: AbortSignal | undefined;
}

/** RFC 8628 §3.1: asks the server for a device code and a user code. */
export async function startDeviceAuthorization(core: ClientCore, options: DeviceAuthorizationOptions = {}): Promise<DeviceAuthorization> {
  const url = await core.endpoint('device_authorization_endpoint', 'device_authorization');
  const response = await core.post(url, options);
  if (response.status !== 200) throw await errorFromResponse(response, 'the device authorization endpoint');
  const body = await readJsonObject(response, 'the device authorization endpoint');
  const what = 'the device authorization endpoint';
  const deviceCode = optionalString(body, 'device_code', what);
  const userCode = optionalString(body, 'user_code', what);
  const verificationUri = optionalString(body, 'verification_uri', what);
  const expiresIn = optionalLifetime(body.expires_in, what);
  if (deviceCode === undefined || userCode === undefined || verificationUri === undefined || expiresIn === undefined) {
    throw new InvalidResponseError(`${what} answered without device_code, user_code, verification_uri or expires_in`, 200);
  }
  const interval = body.interval === undefined ? DEFAULTS.deviceIntervalSeconds : optionalLifetime(body.interval, what);
  return {
    deviceCode,
    userCode,
    verificationUri,
    verificationUriComplete: optionalString(body, 'verification_uri_complete', what),
    expiresAt: Math.floor(Date.now() / 1000) + expiresIn,
    intervalSeconds: Math.max(1, interval ?? DEFAULTS.deviceIntervalSeconds),
  };
}

/**
 * RFC 8628 §3.4-3.5: polls the token endpoint until the user approves (the tokens), denies
 * (OAuthError `access_denied`), or the code expires (OAuthError `expired_token`, or
 * DeviceCodeExpiredError when the client's own clock says so first). Waits `interval` seconds before
 * each poll; `authorization_pending` polls again, `slow_down` adds 5 seconds to the interval for good.
 */
export async function pollDeviceToken(core: ClientCore, authorization: DeviceAuthorization, options: PollOptions = {}): Promise<TokenSet> {
  let intervalSeconds = authorization.intervalSeconds;
  for (;;) {
    if (Date.now() / 1000 + intervalSeconds >= authorization.expiresAt) {
      throw new DeviceCodeExpiredError('the device code expired before the user approved the request');
    }
    await sleep(intervalSeconds * 1000, options.signal);
    let body: Record<string, unknown>;
    try {
      body = await core.requestToken({ grant_type: DEVICE_CODE_GRANT_TYPE, device_code: authorization.deviceCode });
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      // RFC 8628 §3.5: "the authorization request is still pending as the end user hasn't yet completed
      // the user-interaction steps".
      if (err.error === 'authorization_pending') continue;
      // "the interval MUST be increased by 5 seconds for this and all subsequent requests".
      if (err.error === 'slow_down') {
        intervalSeconds += DEFAULTS.deviceSlowDownSeconds;
        continue;
      }
      if (err.error === 'unsupported_grant_type') {
        throw new UnsupportedFeatureError('device_authorization', 'server', `${core.issuer} does not support the device authorization grant (it answered unsupported_grant_type)`, {
          cause: err,
        });
      }
      // access_denied, expired_token, and anything else end the polling.
      throw err;
    }
    const tokens = parseTokenResponse(body);
    if (tokens.idToken !== undefined) {
      tokens.idTokenClaims = await core.validateIdToken(tokens.idToken, { accessToken: tokens.accessToken });
    }
    return tokens;
  }
}
