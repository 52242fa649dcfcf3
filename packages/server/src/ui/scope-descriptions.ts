import type { ServerContext } from '../context.ts';
import { OIDC_SCOPE_DESCRIPTIONS } from '../registry/oidc-scopes.ts';
import type { Client } from '../registry/types.ts';

/** The scopes as the consent page lists them: the built-in OIDC ones, then each API's own words. */
export async function describeScopes(ctx: ServerContext, scopes: string[]): Promise<{ scope: string; description: string }[]> {
  const descriptions = new Map<string, string>(OIDC_SCOPE_DESCRIPTIONS);
  for (const resource of await ctx.storage.resources.list()) {
    for (const s of resource.scopes) descriptions.set(s.scope, s.description || `${s.scope} on ${resource.name}`);
  }
  return scopes.map((scope) => ({ scope, description: descriptions.get(scope) ?? scope }));
}

/**
 * The APIs an authorization request reaches, as the consent page names them: the resources it named
 * (RFC 8707), else the resources that own its API scopes; each by name and identifier.
 */
export async function describeApis(
  ctx: ServerContext,
  client: Client,
  scopes: string[],
  resources: string[],
): Promise<{ name: string; identifier: string }[]> {
  const owner = new Map(client.scopes.map((s) => [s.scope, s.resource]));
  const identifiers = resources.length > 0 ? resources : [...new Set(scopes.flatMap((s) => owner.get(s) ?? []))];
  if (identifiers.length === 0) return [];
  const names = new Map((await ctx.storage.resources.list()).map((r) => [r.identifier, r.name]));
  return identifiers.map((identifier) => ({ name: names.get(identifier) ?? identifier, identifier }));
}
