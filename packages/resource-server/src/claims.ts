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
  /**
   * RFC 9068 §2.2.1 (OIDC Core §2): the Authentication Context Class Reference the user's sign-in
   * satisfied (`urn:latchkey:acr:password`, `urn:latchkey:acr:mfa`, `phr`); absent when no user signed in.
   */
  acr?: string;
  /** RFC 9068 §2.2.1 (RFC 8176): the authentication methods used (`pwd`, `otp`, `hwk`, ...); absent when none. */
  amr?: string[];
  /** RFC 9068 §2.2.1 (OIDC Core §2): when the user last actively authenticated, in seconds since the epoch. */
  auth_time?: number;
  /** Every claim as verified (the JWT payload, or the introspection response), for those not listed above. */
  payload: Readonly<Record<string, unknown>>;
}

/** RFC 9068 §2.2: the claims a JWT access token must carry. */
export const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'] as const;

/**
 * The typed claims of a payload whose issuer, audience and times are already checked: every required
 * claim present with its type; `scope`, `acr`, `amr` and `auth_time`, when present, with theirs.
 * Anything else is the `claims` check.
 */
export function typedClaims(payload: Record<string, unknown>, extraRequired: readonly string[] = []): AccessTokenClaims {
  for (const name of [...REQUIRED_CLAIMS, ...extraRequired]) {
    if (!Object.hasOwn(payload, name) || payload[name] === null) throw new TokenValidationError('claims', `missing "${name}"`);
  }
  const { iss, sub, aud, exp, iat, jti, client_id: clientId, scope, nbf, acr, amr, auth_time: authTime } = payload;
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
  // RFC 9068 §2.2.1: "acr", "amr" and "auth_time" as OIDC Core §2 defines them: acr a string, amr a JSON
  // array of strings, auth_time a JSON number. Optional, but refused when mistyped, like nbf and scope:
  // a step-up check (RFC 9470) must never read a value it cannot trust the meaning of.
  if (acr !== undefined && (typeof acr !== 'string' || acr === '')) throw new TokenValidationError('claims', '"acr" is not a non-empty string');
  if (amr !== undefined && !(Array.isArray(amr) && amr.every((method) => typeof method === 'string'))) {
    throw new TokenValidationError('claims', '"amr" is not an array of strings');
  }
  if (authTime !== undefined && (typeof authTime !== 'number' || !Number.isFinite(authTime))) {
    throw new TokenValidationError('claims', '"auth_time" is not a number');
  }
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
    ...(acr !== undefined ? { acr: acr as string } : {}),
    ...(amr !== undefined ? { amr: [...(amr as string[])] } : {}),
    ...(authTime !== undefined ? { auth_time: authTime as number } : {}),
    payload: Object.freeze({ ...payload }),
  };
}

/** `aud` as an array (RFC 7519 §4.1.3: a string or an array of strings), or undefined if it is neither. */
export function audienceList(aud: unknown): string[] | undefined {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')) return [...aud];
  return undefined;
}
