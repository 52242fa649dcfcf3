/**
 * Signing in on a device without a browser (RFC 8628): the device shows a code, the user approves it on
 * another device, and the device polls until the tokens come.
 *
 *   LATCHKEY_ISSUER=http://localhost:9000 CLIENT_ID=... node --import tsx packages/client/examples/device-login.ts
 *
 * The client is registered with `--type public --grant-types device_code,refresh_token`.
 */
import { pathToFileURL } from 'node:url';
import { LatchkeyClient, OAuthError, UnsupportedFeatureError, type TokenSet } from '@latchkey/client';

export interface DeviceLoginOptions {
  issuer: string;
  clientId: string;
  scope: string;
  /** How to show the user what to do. */
  show: (message: string) => void;
  signal?: AbortSignal;
}

export async function deviceLogin(options: DeviceLoginOptions): Promise<TokenSet> {
  const client = new LatchkeyClient({ issuer: options.issuer, clientId: options.clientId });
  const authorization = await client.startDeviceAuthorization({ scope: options.scope });
  options.show(`Open ${authorization.verificationUri} and enter ${authorization.userCode}`);
  if (authorization.verificationUriComplete) options.show(`(or open ${authorization.verificationUriComplete})`);
  return client.pollDeviceToken(authorization, { signal: options.signal });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const tokens = await deviceLogin({
      issuer: process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000',
      clientId: process.env.CLIENT_ID ?? '',
      scope: 'openid profile offline_access',
      show: (message) => console.log(message),
    });
    console.log(`signed in as ${tokens.idTokenClaims?.preferred_username ?? tokens.idTokenClaims?.sub}`);
  } catch (err) {
    if (err instanceof UnsupportedFeatureError) console.error(`this server has no device flow: ${err.message}`);
    else if (err instanceof OAuthError && err.error === 'access_denied') console.error('the request was denied');
    else console.error(err);
    process.exitCode = 1;
  }
}
