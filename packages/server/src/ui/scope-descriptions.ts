import type { ServerContext } from '../context.ts';
import { OIDC_SCOPE_DESCRIPTIONS } from '../registry/oidc-scopes.ts';

/** The scopes as the consent page lists them: the built-in OIDC ones, then each API's own words. */
export async function describeScopes(ctx: ServerContext, scopes: string[]): Promise<{ scope: string; description: string }[]> {
  const descriptions = new Map<string, string>(OIDC_SCOPE_DESCRIPTIONS);
  for (const resource of await ctx.storage.resources.list()) {
    for (const s of resource.scopes) descriptions.set(s.scope, s.description || `${s.scope} on ${resource.name}`);
  }
  return scopes.map((scope) => ({ scope, description: descriptions.get(scope) ?? scope }));
}
