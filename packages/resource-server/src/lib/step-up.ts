import { ConfigurationError } from '../errors.ts';

/**
 * What a route asks of the user's sign-in (RFC 9470 §3): an `acr` among `acrValues`, an `auth_time`
 * at most `maxAgeSeconds` old, or both. At least one must be given.
 */
export interface AuthenticationRequirements {
  /** The accepted `acr` values, in order of preference: the challenge's `acr_values`. */
  acrValues?: readonly string[];
  /** The largest accepted age of the sign-in, in seconds: the challenge's `max_age`. */
  maxAgeSeconds?: number;
}

/** The checked requirements: what the check compares and the challenge names. */
export interface AuthenticationRequirement {
  acrValues: readonly string[] | undefined;
  maxAge: number | undefined;
}

/**
 * RFC 9470 §3: acr_values is "a space-separated string listing the authentication context class
 * reference values", sent as a quoted-string: each value is one printable word without `"` or `\`.
 */
export function checkAcrValues(values: readonly unknown[]): string[] {
  if (!Array.isArray(values) || values.length === 0) throw new ConfigurationError('requireAcr needs at least one acr value');
  for (const value of values) {
    if (typeof value !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(value)) {
      throw new ConfigurationError(`"${String(value)}" is not an acr value (printable ASCII without spaces, " or \\)`);
    }
  }
  return [...new Set(values as string[])];
}

/**
 * RFC 9470 §3: max_age "Indicates the allowable elapsed time in seconds since the last active
 * authentication event": a whole number of seconds, 0 or more.
 */
export function checkMaxAge(seconds: unknown): number {
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 0) {
    throw new ConfigurationError('requireAuthTime needs a maximum age: a whole number of seconds, 0 or more');
  }
  return seconds;
}

/** requireAuthentication's options, checked when it is called. */
export function checkAuthenticationRequirements(options: AuthenticationRequirements): AuthenticationRequirement {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('requireAuthentication needs { acrValues, maxAgeSeconds }');
  const { acrValues, maxAgeSeconds } = options;
  if (acrValues === undefined && maxAgeSeconds === undefined) throw new ConfigurationError('requireAuthentication needs acrValues, maxAgeSeconds or both');
  return {
    acrValues: acrValues === undefined ? undefined : checkAcrValues(acrValues),
    maxAge: maxAgeSeconds === undefined ? undefined : checkMaxAge(maxAgeSeconds),
  };
}
