import { InvalidScope, InvalidTarget } from '../errors.ts';
import { isResourceIndicator, SCOPE_TOKEN } from '../lib/syntax.ts';
import type { AccessTokenFormat, Client } from '../registry/types.ts';

export interface AudienceSelection {
  audience: string[];
  scope: string[];
  /** The token format the audiences take: they must agree. */
  format: AccessTokenFormat;
  /** Shortest access-token lifetime override among the selected resources, if any. */
  ttlOverrideSeconds: number | null;
}

/**
 * Splits a `scope` parameter and refuses malformed ones. RFC 6749 §3.3: scope = scope-token
 * *( SP scope-token ), so a value of spaces alone holds no scope and is malformed.
 */
export function parseScope(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const tokens = value.split(' ').filter((t) => t !== '');
  if (tokens.length === 0) throw new InvalidScope('scope is empty');
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) throw new InvalidScope('scope contains invalid characters');
  }
  return [...new Set(tokens)];
}

/**
 * Decides the audience and scopes of a token from the `resource` (RFC 8707) and `scope` (RFC 6749
 * §3.3) parameters and what the client may have:
 * - `resource` given: those audiences; scopes requested must belong to them (default: all the client
 *   may have on them).
 * - only `scope` given: the audiences are the resources that own the requested scopes.
 * - neither: the client's only audience with all its scopes there; several audiences need a choice.
 */
export function selectAudience(client: Client, resources: string[], requested: string[] | undefined): AudienceSelection {
  const allowed = new Map(client.audiences.map((a) => [a.identifier, a]));
  for (const resource of resources) {
    if (!isResourceIndicator(resource)) {
      throw new InvalidTarget('resource must be an absolute URI without a fragment');
    }
    if (!allowed.has(resource)) throw new InvalidTarget('the client may not request tokens for this resource');
  }
  const scopeOwner = new Map(client.scopes.map((s) => [s.scope, s.resource]));
  if (requested !== undefined) {
    for (const scope of requested) {
      // Fixed descriptions: caller input is never reflected; the value goes to the log detail.
      if (!scopeOwner.has(scope)) throw new InvalidScope('a requested scope is unknown or not allowed to this client', scope.slice(0, 200));
    }
  }

  let audience: string[];
  let scope: string[];
  if (resources.length > 0) {
    audience = [...new Set(resources)];
    if (requested !== undefined) {
      for (const s of requested) {
        if (!audience.includes(scopeOwner.get(s)!)) {
          throw new InvalidScope('a requested scope does not belong to the requested resource', s.slice(0, 200));
        }
      }
      scope = requested;
    } else {
      scope = client.scopes.filter((s) => audience.includes(s.resource)).map((s) => s.scope);
    }
  } else if (requested !== undefined) {
    scope = requested;
    audience = [...new Set(requested.map((s) => scopeOwner.get(s)!))];
    for (const a of audience) {
      if (!allowed.has(a)) throw new InvalidTarget('the client may not request tokens for this resource');
    }
  } else {
    if (client.audiences.length !== 1) {
      throw new InvalidTarget(
        client.audiences.length === 0
          ? 'the client is not allowed any audience'
          : 'the client may use several audiences: name one with the resource parameter',
      );
    }
    audience = [client.audiences[0]!.identifier];
    scope = client.scopes.filter((s) => s.resource === audience[0]).map((s) => s.scope);
  }

  const overrides = audience
    .map((a) => allowed.get(a)?.accessTokenTtlSeconds)
    .filter((t): t is number => typeof t === 'number');
  const formats = new Set(audience.map((a) => allowed.get(a)!.accessTokenFormat));
  // One token cannot be both self-contained (JWT) and a reference (opaque).
  if (formats.size > 1) throw new InvalidTarget('the requested resources take different token formats: ask for them separately');
  return {
    audience,
    scope,
    format: formats.has('opaque') ? 'opaque' : 'jwt',
    ttlOverrideSeconds: overrides.length > 0 ? Math.min(...overrides) : null,
  };
}
