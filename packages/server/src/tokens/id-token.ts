import { nowSeconds } from '../lib/clock.ts';
import { createHash } from 'node:crypto';
import type { KeyRing } from '../keys/key-ring.ts';
import type { IdTokenAlgorithm } from '../registry/types.ts';
import { signCompact } from './jws-sign.ts';
import { authenticationClaims, type Authentication } from '../users/authentication-context.ts';

export interface IdTokenRequest {
  issuer: string;
  clientId: string;
  alg: IdTokenAlgorithm;
  subject: string;
  /**
   * The user's sign-in: OIDC Core §2 `auth_time`, `acr` and `amr`; kept unchanged on refresh (§12.2).
   */
  authentication: Authentication;
  /** Exactly as the client sent it in the authorization request; absent on refresh. */
  nonce: string | null;
  /** The access token issued with it, for `at_hash`. */
  accessToken: string;
  /** Scope-dependent claims (users/claims.ts). */
  claims: Record<string, unknown>;
  ttlSeconds: number;
  /** Back-Channel Logout §2.1: the SSO session's `sid`, when the grant was made in one. */
  sid?: string | null | undefined;
}

/**
 * OIDC Core §2 and §3.1.3.6: an ID token for the client. `typ` is `JWT`, never `at+jwt`, so an ID
 * token can never pass as an access token (RFC 9068 §4, docs/security.md K72).
 */
export async function issueIdToken(ring: KeyRing, request: IdTokenRequest): Promise<string> {
  const signer = await ring.signer(request.alg);
  const iat = nowSeconds();
  const payload: Record<string, unknown> = {
    ...request.claims,
    iss: request.issuer,
    sub: request.subject,
    aud: request.clientId,
    exp: iat + request.ttlSeconds,
    iat,
    ...authenticationClaims(request.authentication),
    // OIDC Core §2: azp is the party the token was issued to; always this client.
    azp: request.clientId,
    at_hash: atHash(request.accessToken),
  };
  // OIDC Core §3.1.2.1: the nonce value is passed through unmodified to the ID token.
  if (request.nonce !== null) payload.nonce = request.nonce;
  // Back-Channel Logout §2.1: "sid (session ID) Claim used in ID Tokens and as a parameter in
  // Logout Tokens", the same value in both (logout/logout-token.ts).
  if (request.sid) payload.sid = request.sid;
  return signCompact(signer, 'JWT', payload);
}

/**
 * OIDC Core §3.1.3.6: "the base64url encoding of the left-most half of the hash of the octets of the
 * ASCII representation of the access_token value", with the hash of the JWS alg (SHA-256 for RS256
 * and ES256).
 */
export function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest().subarray(0, 16).toString('base64url');
}
