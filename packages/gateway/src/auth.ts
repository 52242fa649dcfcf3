import { AsyncLocalStorage } from 'node:async_hooks';
import {
  InsufficientScopeError,
  IntrospectionUnavailableError,
  InvalidRequestError,
  JwksUnavailableError,
  MissingTokenError,
  TokenValidationError,
  type AccessTokenClaims,
} from '@latchkey/resource-server';
import { requireScopes, withBearerAuth, type AuthenticatedHandler } from '@latchkey/resource-server/fetch';

/**
 * Authentication at the edge goes through @latchkey/resource-server's fetch adapter, so the gateway
 * reads the Authorization header (RFC 6750 §2.1: scheme case-insensitive, b64token syntax, the query
 * never read) and words its challenges (RFC 6750 §3, `scope=` on insufficient_scope, 503 with
 * Retry-After when the issuer's keys cannot be had) exactly as every other Latchkey API does.
 *
 * The adapter is given a Request carrying only the Authorization header: the gateway never reads the
 * body (it streams to the upstream untouched), so a token in a form body (RFC 6750 §2.2) is not seen.
 */

export type AuthResult =
  | { ok: true; claims: AccessTokenClaims; token: string }
  /** `clientId`: when the token was good but lacked a scope, whose it was (for the log). */
  | { ok: false; response: Response; reason: string; clientId: string | undefined };

/** What one authentication saw: the token, the claims, the verifier's error, whether a cache answered. */
interface Attempt {
  token?: string;
  /** What the verifier returned, before the scope check. */
  verified?: AccessTokenClaims;
  /** Set once the scopes passed too. */
  claims?: AccessTokenClaims;
  error?: unknown;
  /** Set by the introspection fetch: the issuer was asked (a cache miss). */
  issuerAsked?: boolean;
}

const attempts = new AsyncLocalStorage<Attempt>();

/** For the introspector's fetch: marks the current authentication as having asked the issuer. */
export function markIssuerAsked(): void {
  const attempt = attempts.getStore();
  if (attempt) attempt.issuerAsked = true;
}

/** Whether the current authentication asked the issuer (read right after the verifier resolves). */
export function issuerWasAsked(): boolean {
  return attempts.getStore()?.issuerAsked === true;
}

/** Only its identity matters: the adapter returns it when the token and scopes are good. */
const ACCEPTED = new Response(null, { status: 204 });
/** The adapter needs a URL; nothing is fetched from it. */
const SYNTHETIC_URL = 'http://gateway.invalid/';

export type Authenticate = (authorization: string | undefined) => Promise<AuthResult>;

/**
 * An authenticator for one route and method: `verify` (a validator's or an introspector's) and the
 * scopes the method requires. `requireScopes` checks the scope syntax here, at configuration time.
 */
export function createAuthenticator(verify: (token: string) => Promise<AccessTokenClaims>, scopes: readonly string[], realm: string): Authenticate {
  const accept: AuthenticatedHandler = async (_request, auth) => {
    attempts.getStore()!.claims = auth;
    return ACCEPTED;
  };
  const handler = withBearerAuth(
    async function verifyAtTheEdge(token) {
      const attempt = attempts.getStore()!;
      attempt.token = token;
      try {
        attempt.verified = await verify(token);
        return attempt.verified;
      } catch (err) {
        attempt.error = err;
        throw err;
      }
    },
    scopes.length > 0 ? requireScopes(...scopes)(accept) : accept,
    { realm },
  );
  return async function authenticate(authorization) {
    const attempt: Attempt = {};
    const request = new Request(SYNTHETIC_URL, { headers: authorization === undefined ? {} : { authorization } });
    const response = await attempts.run(attempt, () => handler(request));
    if (response === ACCEPTED && attempt.claims && attempt.token !== undefined) {
      return { ok: true, claims: attempt.claims, token: attempt.token };
    }
    return { ok: false, response, reason: denialReason(attempt, response), clientId: attempt.verified?.client_id };
  };
}

/** The `reason` label of a refusal: the failed check, or what the response says. */
function denialReason(attempt: Attempt, response: Response): string {
  const err = attempt.error;
  if (err instanceof TokenValidationError) return err.check;
  if (err instanceof JwksUnavailableError) return 'jwks_unavailable';
  if (err instanceof IntrospectionUnavailableError) return 'introspection_unavailable';
  if (err instanceof InsufficientScopeError || response.status === 403) return 'insufficient_scope';
  if (err instanceof InvalidRequestError || response.status === 400) return 'invalid_request';
  if (err instanceof MissingTokenError) return 'missing_token';
  // Refused while reading the header, before any verification.
  return /error="/.test(response.headers.get('www-authenticate') ?? '') ? 'malformed' : 'missing_token';
}
