import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { LatchkeyClient } from './client.ts';
import { DEFAULTS } from './defaults.ts';
import { LogoutTokenError } from './errors.ts';

/** Back-Channel Logout §2.4: the member of `events` that makes a JWT a logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** The claims of a validated logout token: whose sessions end (`sid`, or every session of `sub`). */
export interface LogoutTokenClaims extends JWTPayload {
  iss: string;
  aud: string | string[];
  iat: number;
  jti: string;
  events: Record<string, unknown>;
  sub?: string;
  sid?: string;
}

/** Logout token `jti`s remembered, at most (the oldest are forgotten first). */
const MAX_REMEMBERED_JTIS = 10_000;
/** A logout token without `exp` is remembered (and accepted) for this long after its `iat`. */
const NO_EXP_LIFETIME_SECONDS = 300;

/**
 * Validates logout tokens for one client (OpenID Connect Back-Channel Logout 1.0 §2.6), with jose
 * against the issuer's JWKS: the signature by one of its keys (never `none`, never a shared secret);
 * `typ` `logout+jwt` (§2.4, §4.1: an ID token or an access token is not a logout token); `iss` the
 * issuer; `aud` this client; `iat` present and not in the future, `exp` not past (with the clock
 * tolerance); `jti` present and never seen before by this validator (replay); `events` with the
 * back-channel logout member, a JSON object; `sub` or `sid` or both; and no `nonce` (§2.6 step 6).
 */
export class LogoutTokenValidator {
  private readonly client: LatchkeyClient;
  private readonly clockToleranceSeconds: number;
  private jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  /** jti → when it may be forgotten (seconds since the epoch). */
  private readonly seen = new Map<string, number>();

  constructor(client: LatchkeyClient, options: { clockToleranceSeconds?: number | undefined } = {}) {
    this.client = client;
    this.clockToleranceSeconds = options.clockToleranceSeconds ?? DEFAULTS.clockToleranceSeconds;
  }

  async validate(token: unknown): Promise<LogoutTokenClaims> {
    if (typeof token !== 'string' || token === '' || token.length > 16 * 1024) throw new LogoutTokenError('logout_token is missing');
    const metadata = await this.client.metadata();
    if (typeof metadata.jwks_uri !== 'string') throw new LogoutTokenError('the issuer publishes no jwks_uri');
    this.jwks ??= createRemoteJWKSet(new URL(metadata.jwks_uri));
    const advertised = metadata.id_token_signing_alg_values_supported;
    // §2.4: signed like ID tokens; never `none` or HMAC (the client secret is not a key here).
    const algorithms = (Array.isArray(advertised) ? advertised : ['RS256']).filter((a): a is string => typeof a === 'string' && a !== 'none' && !a.startsWith('HS'));
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.client.issuer,
        audience: this.client.clientId,
        typ: 'logout+jwt',
        algorithms,
        requiredClaims: ['iat', 'jti', 'events'],
        clockTolerance: this.clockToleranceSeconds,
      }));
    } catch (err) {
      const reason = err instanceof errors.JOSEError ? err.message : String(err);
      throw new LogoutTokenError(reason, { cause: err });
    }
    const now = Math.floor(Date.now() / 1000);
    const iat = payload.iat!;
    if (iat > now + this.clockToleranceSeconds) throw new LogoutTokenError('iat is in the future');
    // §2.6 step 4: "Verify that the Logout Token contains a sub Claim, a sid Claim, or both."
    if (typeof payload.sub !== 'string' && typeof payload.sid !== 'string') throw new LogoutTokenError('neither sub nor sid');
    if (payload.sid !== undefined && typeof payload.sid !== 'string') throw new LogoutTokenError('sid is not a string');
    // §2.6 step 5: "Verify that the Logout Token contains an events Claim whose value is JSON object
    // containing the member name http://schemas.openid.net/event/backchannel-logout."
    const events = payload.events;
    if (typeof events !== 'object' || events === null || Array.isArray(events)) throw new LogoutTokenError('events is not a JSON object');
    const event = (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new LogoutTokenError(`events has no ${BACKCHANNEL_LOGOUT_EVENT} object`);
    // §2.6 step 6: "Verify that the Logout Token does not contain a nonce Claim."
    if (Object.hasOwn(payload, 'nonce')) throw new LogoutTokenError('it contains a nonce');
    // §2.6: "The RP MAY ... use the jti Claim to detect replays".
    const jti = payload.jti!;
    this.forgetExpired(now);
    if (this.seen.has(jti)) throw new LogoutTokenError('jti was seen before (replayed)');
    if (this.seen.size >= MAX_REMEMBERED_JTIS) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(jti, (payload.exp ?? iat + NO_EXP_LIFETIME_SECONDS) + this.clockToleranceSeconds);
    return payload as LogoutTokenClaims;
  }

  private forgetExpired(now: number): void {
    for (const [jti, until] of this.seen) if (until < now) this.seen.delete(jti);
  }
}
