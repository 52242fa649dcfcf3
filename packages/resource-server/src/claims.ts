import { TokenValidationError } from './errors.ts';

/** The verified claims of an access token (RFC 9068 §2.2, or an RFC 7662 §2.2 introspection response). */
export interface AccessTokenClaims {
  /** The issuer, exactly the configured one. */
  iss: string;
  /** The subject: the user, or the client itself for client credentials. */
  sub: string;
  /** The client the token was issued to. */
  client_id: string;
  /** The audiences, always as an array (a single `aud` string becomes one element). */
  aud: string[];
  /** The granted scopes, `scope` split on spaces; empty when the token has none. */
  scope: string[];
  /** Expiry, in seconds since the epoch. */
  exp: number;
  /** Issue time, in seconds since the epoch. */
  iat: number;
  /** The token's identifier. */
  jti: string;
  /** Every claim as verified (the JWT payload, or the introspection response), for those not listed above. */
  payload: Readonly<Record<string, unknown>>;
}

/** RFC 9068 §2.2: the claims a JWT access token must carry. */
export const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'] as const;

/**
 * The typed claims of a payload whose issuer, audience and times are already checked: every required
 * claim present with its type, `scope` a string when present. Anything else is the `claims` check.
 */
export function typedClaims(payload: Record<string, unknown>, extraRequired: readonly string[] = []): AccessTokenClaims {
  for (const name of [...REQUIRED_CLAIMS, ...extraRequired]) {
    if (!Object.hasOwn(payload, name) || payload[name] === null) throw new TokenValidationError('claims', `missing "${name}"`);
  }
  const { iss, sub, aud, exp, iat, jti, client_id: clientId, scope, nbf } = payload;
  for (const [name, value] of [['iss', iss], ['sub', sub], ['jti', jti], ['client_id', clientId]] as const) {
    if (typeof value !== 'string' || value === '') throw new TokenValidationError('claims', `"${name}" is not a non-empty string`);
  }
  for (const [name, value] of [['exp', exp], ['iat', iat]] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TokenValidationError('claims', `"${name}" is not a number`);
  }
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) throw new TokenValidationError('claims', '"nbf" is not a number');
  const audience = audienceList(aud);
  if (!audience) throw new TokenValidationError('claims', '"aud" is not a string or an array of strings');
  if (scope !== undefined && typeof scope !== 'string') throw new TokenValidationError('claims', '"scope" is not a string');
  return {
    iss: iss as string,
    sub: sub as string,
    client_id: clientId as string,
    aud: audience,
    // RFC 6749 §3.3: a list of space-delimited strings.
    scope: typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : [],
    exp: exp as number,
    iat: iat as number,
    jti: jti as string,
    payload: Object.freeze({ ...payload }),
  };
}

/** `aud` as an array (RFC 7519 §4.1.3: a string or an array of strings), or undefined if it is neither. */
export function audienceList(aud: unknown): string[] | undefined {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')) return [...aud];
  return undefined;
}
