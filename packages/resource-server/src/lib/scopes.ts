import { ConfigurationError } from '../errors.ts';

/** RFC 6750 §3: scope-token syntax (RFC 6749 §3.3), checked when requireScopes is called. */
export function checkScopes(scopes: readonly string[]): string[] {
  if (scopes.length === 0) throw new ConfigurationError('requireScopes needs at least one scope');
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) {
      throw new ConfigurationError(`"${String(scope)}" is not a scope (RFC 6749 §3.3)`);
    }
  }
  return [...scopes];
}
