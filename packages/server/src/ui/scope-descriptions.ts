import type { ServerContext } from '../context.ts';
import type { MessageKey } from '../i18n/catalogs.ts';
import type { Translator } from '../i18n/translator.ts';
import { OIDC_SCOPES } from '../registry/oidc-scopes.ts';
import type { Client } from '../registry/types.ts';

/**
 * The scopes as the consent page lists them: the built-in OIDC ones in the user's language, then each
 * API's own words (as the operator wrote them, in one language).
 */
export async function describeScopes(ctx: ServerContext, scopes: string[], t: Translator): Promise<{ scope: string; description: string }[]> {
  const descriptions = new Map<string, string>([...OIDC_SCOPES].map((s) => [s, t.t(`scope.${s}` as MessageKey)]));
  for (const resource of await ctx.storage.resources.list()) {
    for (const s of resource.scopes) descriptions.set(s.scope, s.description || t.t('scope.onApi', { scope: s.scope, api: resource.name }));
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
