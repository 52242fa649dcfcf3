import { SignJWT } from 'jose';
import type { KeyRing } from '../keys/key-ring.ts';
import { randomId128 } from '../lib/random.ts';
import type { IdTokenAlgorithm } from '../registry/types.ts';

/** Back-Channel Logout §2.4: the `events` member that makes a JWT a logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** How long a logout token is good for: it is signed just before each delivery attempt. */
export const LOGOUT_TOKEN_TTL_SECONDS = 120;

export interface LogoutTokenRequest {
  issuer: string;
  clientId: string;
  /** The client's `id_token_signed_response_alg`: the logout token is signed like its ID tokens. */
  alg: IdTokenAlgorithm;
  subject: string;
  /** The ended session's `sid`, as in the client's ID tokens; null: every session of the user. */
  sid: string | null;
  now: number;
}

/**
 * OpenID Connect Back-Channel Logout 1.0 §2.4: a logout token, signed with the server's ID token key
 * ("Logout Tokens MUST be signed ... the same way as ID Tokens"), its `typ` `logout+jwt` (§2.4: "it is
 * RECOMMENDED that Logout Tokens be explicitly typed", §4.1 cross-JWT confusion). Claims: iss, aud,
 * iat, exp, jti, sub and sid, and events; §2.4: "A Logout Token MUST NOT contain a nonce Claim", so
 * none is ever set.
 */
export async function issueLogoutToken(ring: KeyRing, request: LogoutTokenRequest): Promise<string> {
  const signer = await ring.signer(request.alg);
  const claims: Record<string, unknown> = {
    sub: request.subject,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
  };
  if (request.sid) claims.sid = request.sid;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'logout+jwt' })
    .setIssuer(request.issuer)
    .setAudience(request.clientId)
    .setIssuedAt(request.now)
    .setExpirationTime(request.now + LOGOUT_TOKEN_TTL_SECONDS)
    .setJti(randomId128())
    .sign(signer.key);
}
