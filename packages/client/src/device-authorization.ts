import * as oauth from 'oauth4webapi';
import { DEFAULTS } from './defaults.ts';
import { DeviceCodeExpiredError, OAuthError, UnsupportedFeatureError } from './errors.ts';
import type { ClientCore } from './lib/client-core.ts';
import { sleep } from './lib/retry.ts';
import { formParameters } from './refresh.ts';
import type { TokenSet } from './token-set.ts';

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
  await core.endpoint('device_authorization_endpoint', 'device_authorization');
  const body = await core.call(
    'the device authorization endpoint',
    ({ as, client, auth, options: requestOptions }) => oauth.deviceAuthorizationRequest(as, client, auth, formParameters(options), requestOptions),
    ({ as, client }, response) => oauth.processDeviceAuthorizationResponse(as, client, response),
    { dpop: false },
  );
  return {
    deviceCode: body.device_code,
    userCode: body.user_code,
    verificationUri: body.verification_uri,
    verificationUriComplete: body.verification_uri_complete,
    expiresAt: Math.floor(Date.now() / 1000) + Math.floor(body.expires_in),
    // RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default."
    intervalSeconds: Math.max(1, Math.floor(body.interval ?? DEFAULTS.deviceIntervalSeconds)),
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
    try {
      return await core.requestTokens(
        'the token endpoint',
        ({ as, client, auth, options: requestOptions }) => oauth.deviceCodeGrantRequest(as, client, auth, authorization.deviceCode, requestOptions),
        { process: oauth.processDeviceCodeResponse },
      );
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
  }
}
