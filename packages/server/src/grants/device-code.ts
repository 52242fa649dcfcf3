import {
  AccessDenied,
  AuthorizationPending,
  ExpiredToken,
  InvalidGrant,
  InvalidRequest,
  SlowDown,
  UnauthorizedClient,
} from '../errors.ts';
import { sha256 } from '../lib/random.ts';
import { DEVICE_CODE_GRANT } from '../registry/grant-types.ts';
import { startRefreshFamily } from './refresh-family.ts';
import { confirmationOf, refreshBindingFor } from '../tokens/confirmation.ts';
import type { GrantDeps, GrantHandler } from './grant.ts';
import { mayHaveRefreshToken } from './refresh-policy.ts';
import { issueUserTokens, scopesForResources, type UserTokenDeps } from './user-tokens.ts';
import { PASSWORD_ONLY } from '../users/authentication-context.ts';

/** Polling with a device code: the device codes, the user, the tokens issued, the first refresh token. */
type DeviceCodeDeps = UserTokenDeps & GrantDeps<'deviceCodes' | 'users' | 'refreshTokens', 'macKey'>;

/**
 * RFC 8628 §3.4-§3.5: the device polls with its device code. It learns `authorization_pending` until
 * the user decides, `slow_down` (and a 5 s longer interval) when it polls too often, `access_denied`
 * after a denial (final: docs/security.md G56), `expired_token` after the code's lifetime; once approved,
 * one redemption gets the tokens. A device code belongs to the client that asked for it.
 */
export const deviceCodeGrant: GrantHandler<DeviceCodeDeps> = {
  grantType: DEVICE_CODE_GRANT,
  async handle(ctx, client, params, sender) {
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) {
      throw new UnauthorizedClient('the client is not allowed the device code grant');
    }
    const deviceCode = params.get('device_code');
    if (deviceCode === undefined) throw new InvalidRequest('the device_code parameter is required');
    const invalid = new InvalidGrant('the device code is invalid or was issued to another client');
    if (deviceCode.length > 200) throw invalid;
    const hash = sha256(deviceCode);
    const now = ctx.now();
    // RFC 8628 §3.4: bound to its client; another client learns nothing about it, and changes nothing.
    const polled = await ctx.storage.deviceCodes.poll(hash, client.clientId, now);
    if (polled.status === 'unknown') throw invalid;
    const code = polled.code;
    if (code.status === 'redeemed') throw new InvalidGrant('the device code was used before');
    if (code.status === 'denied') throw new AccessDenied('the user denied the request');
    if (code.expiresAt <= now) throw new ExpiredToken('the device code has expired');
    if (polled.status === 'slow_down') throw new SlowDown(`polling too fast: wait ${code.intervalSeconds} seconds between requests`);
    if (code.status === 'pending') throw new AuthorizationPending('the user has not decided yet');

    // Approved. A resource outside the grant fails before the code is spent.
    const scope = code.scope.split(' ').filter((s) => s !== '');
    scopesForResources(client, scope, params.getAll('resource'));
    if (!(await ctx.storage.deviceCodes.redeem(hash))) throw new InvalidGrant('the device code was used before');
    const user = code.userId ? await ctx.storage.users.findById(code.userId) : undefined;
    // A user disabled between approval and redemption gets nothing (Keycloak #36811).
    if (!user || user.disabledAt !== null || !code.grantId) throw new InvalidGrant('the user is disabled');
    const authentication = { time: code.authTime ?? now, methods: code.amr ?? [...PASSWORD_ONLY] };
    const response = await issueUserTokens(ctx, {
      client,
      grantId: code.grantId,
      user,
      scope,
      resources: params.getAll('resource'),
      authentication,
      nonce: null,
      onRevokedGrant: 'fail',
      cnf: confirmationOf(sender),
    });
    if (mayHaveRefreshToken(client, scope)) {
      const binding = refreshBindingFor(client.type, sender);
      response.refresh_token = await startRefreshFamily(ctx, code.grantId, code.scope, authentication, now, binding);
    }
    return response;
  },
};
