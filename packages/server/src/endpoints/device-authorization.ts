import { authenticateClient } from '../client-auth/authenticate.ts';
import type { ServerContext } from '../context.ts';
import { generateUserCode, normalizeUserCode, userCodeHash } from '../device/user-code.ts';
import { InvalidScope, UnauthorizedClient } from '../errors.ts';
import { DEVICE_CODE_GRANT } from '../registry/grant-types.ts';
import { parseScope } from '../grants/select-audience.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import { isUniqueViolation } from '../storage/database.ts';
import type { EndpointRequest } from './endpoint-request.ts';

/** RFC 8628 §3.2: how long the codes live and how often the device may poll. */
export const DEVICE_CODE_TTL_SECONDS = 600;
export const DEVICE_POLL_INTERVAL_SECONDS = 5;

export interface DeviceAuthorizationResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/**
 * RFC 8628 §3.1-§3.2: a device asks to be authorized. The client authenticates as at the token
 * endpoint (public clients by client_id) and must be registered for the device grant; the scopes are
 * checked as at the authorization endpoint.
 */
export async function deviceAuthorizationEndpoint(ctx: ServerContext, request: EndpointRequest): Promise<DeviceAuthorizationResponse> {
  const client = await authenticateClient(request, ctx, { allowPublic: true });
  if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) {
    throw new UnauthorizedClient('the client is not allowed the device authorization grant');
  }
  const scope = parseScope(request.params.get('scope'));
  if (scope === undefined) throw new InvalidScope('the scope parameter is required');
  const allowed = new Set([...client.oidcScopes, ...client.scopes.map((s) => s.scope)]);
  for (const s of scope) {
    if (!allowed.has(s)) throw new InvalidScope('a requested scope is unknown or not allowed to this client', s.slice(0, 200));
  }
  const now = ctx.now();
  const deviceCode = randomToken(32);
  // A user code is unique among live requests; on the rare collision, draw again.
  for (let attempt = 0; ; attempt++) {
    const userCode = generateUserCode();
    try {
      await ctx.storage.deviceCodes.insert({
        deviceCodeHash: sha256(deviceCode),
        userCodeHash: userCodeHash(normalizeUserCode(userCode)!),
        clientId: client.clientId,
        scope: scope.join(' '),
        createdAt: now,
        expiresAt: now + DEVICE_CODE_TTL_SECONDS,
        intervalSeconds: DEVICE_POLL_INTERVAL_SECONDS,
      });
      const verificationUri = ctx.urls.endpoint('device');
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: verificationUri,
        verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(userCode)}`,
        expires_in: DEVICE_CODE_TTL_SECONDS,
        interval: DEVICE_POLL_INTERVAL_SECONDS,
      };
    } catch (err) {
      if (!isUniqueViolation(err) || attempt >= 5) throw err;
    }
  }
}
