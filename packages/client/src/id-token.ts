import { createHash } from 'node:crypto';
import { decodeProtectedHeader, type JWTPayload } from 'jose';
import * as oauth from 'oauth4webapi';
import { IdTokenValidationError } from './errors.ts';
import type { Step } from './lib/client-core.ts';
import { idTokenError } from './lib/oauth-errors.ts';

/** The claims of a validated ID token (OpenID Connect Core §2, §5.1). */
export interface IdTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  auth_time?: number;
  /** OIDC Core §2: the authentication context class the authentication satisfied. */
  acr?: string;
  /** OIDC Core §2, RFC 8176: the authentication methods used (`pwd`, `otp`, `hwk`, `mfa`, ...). */
  amr?: string[];
  nonce?: string;
  azp?: string;
  at_hash?: string;
  /** Back-Channel Logout §2.1: the OP session the token was issued in. */
  sid?: string;
  name?: string;
  preferred_username?: string;
  email?: string;
  email_verified?: boolean;
}

export interface IdTokenExpectations {
  issuer: string;
  clientId: string;
  clockToleranceSeconds: number;
  /** The nonce of the authorization request (oauth4webapi compares it); undefined for refresh and the device flow. */
  nonce?: string | undefined;
  /** The `max_age` of the authorization request (oauth4webapi checks `auth_time` against it). */
  maxAgeSeconds?: number | undefined;
  /** The ID token of the same login, when this one comes from a refresh (OIDC Core §12.2). */
  previous?: IdTokenClaims | undefined;
}

/**
 * The ID token checks that follow oauth4webapi's. oauth4webapi has already checked, in the token
 * response (OIDC Core §3.1.3.7): the `alg` against the accepted list (never `none`, never HS256), `iss`
 * exactly, `aud` containing this client, `azp` when there are several audiences, `exp`, `nbf`, the
 * presence of `iss`, `sub`, `aud`, `exp` and `iat`, and for the code flow `nonce` and `auth_time` against
 * `max_age`. It leaves the signature to the client when the ID token came straight from the token
 * endpoint over TLS (§3.1.3.7 (6) allows that); the SDK checks it anyway, with oauth4webapi's JWKS
 * cache, and then what neither does: `typ`, an `aud` with nothing but this client, `azp`, `iat` in the
 * future, `at_hash` (§3.1.3.8), and after a refresh the same `sub`, `auth_time` and `nonce` (§12.2).
 */
export async function checkIdToken(step: Step, response: Response, tokens: oauth.TokenEndpointResponse, expected: IdTokenExpectations): Promise<IdTokenClaims> {
  const idToken = tokens.id_token!;
  const header = decodeProtectedHeader(idToken);
  // An access token (RFC 9068 `at+jwt`) or a logout token must never pass as an ID token.
  if (header.typ !== undefined && !/^(application\/)?jwt$/i.test(header.typ)) {
    throw new IdTokenValidationError('typ', `unexpected typ ${JSON.stringify(header.typ)}`);
  }
  // (6)-(8): the signature, by a key of the server's JWKS for the alg already checked.
  try {
    await oauth.validateApplicationLevelSignature(step.as, response, step.getOptions);
  } catch (err) {
    const mapped = idTokenError(err);
    if (mapped && mapped.check !== 'format') throw mapped;
    // Anything else comes from fetching the JWKS: a timeout, an invalid set, a network failure.
    throw new IdTokenValidationError('jwks', `the server's keys could not be had: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const claims = oauth.getValidatedIdTokenClaims(tokens) as unknown as IdTokenClaims;
  const now = Math.floor(Date.now() / 1000);

  // (3): the ID token "MUST be rejected if ... it contains additional audiences not trusted by the Client".
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (audiences.some((a) => a !== expected.clientId)) {
    throw new IdTokenValidationError('aud', 'the token has audiences other than this client');
  }
  // (5): "If an azp (authorized party) Claim is present, the Client SHOULD verify that its client_id is the Claim Value."
  if (claims.azp !== undefined && claims.azp !== expected.clientId) {
    throw new IdTokenValidationError('azp', `azp is ${JSON.stringify(claims.azp)}, not this client`);
  }
  // (10): "The iat Claim can be used to reject tokens that were issued too far away from the current time".
  if (claims.iat > now + expected.clockToleranceSeconds) throw new IdTokenValidationError('iat', 'iat is in the future');

  // §12.2: a refreshed ID token's nonce, if present, is the one of the original authentication.
  if (expected.nonce === undefined && claims.nonce !== undefined && expected.previous?.nonce !== undefined && claims.nonce !== expected.previous.nonce) {
    throw new IdTokenValidationError('nonce', 'the nonce differs from the original ID token');
  }

  // §3.1.3.8 / §3.3.2.11: at_hash is the left half of the hash of the access token, with the hash of the alg.
  if (claims.at_hash !== undefined) {
    const digest = createHash(hashForAlg(header.alg)).update(tokens.access_token, 'ascii').digest();
    if (claims.at_hash !== digest.subarray(0, digest.length / 2).toString('base64url')) {
      throw new IdTokenValidationError('at_hash', 'at_hash does not match the access token');
    }
  }

  // §12.2: after a refresh, "its sub Claim Value MUST be the same as in the ID Token issued when the
  // original authentication occurred", and auth_time, if present, the time of that authentication.
  if (expected.previous) {
    if (claims.sub !== expected.previous.sub) throw new IdTokenValidationError('sub', 'the refreshed ID token names another user');
    if (claims.auth_time !== undefined && expected.previous.auth_time !== undefined && claims.auth_time !== expected.previous.auth_time) {
      throw new IdTokenValidationError('auth_time', 'the refreshed ID token has another auth_time');
    }
  }
  return claims;
}

function hashForAlg(alg: string | undefined): 'sha256' | 'sha384' | 'sha512' {
  if (alg?.endsWith('384')) return 'sha384';
  if (alg?.endsWith('512')) return 'sha512';
  return 'sha256';
}
