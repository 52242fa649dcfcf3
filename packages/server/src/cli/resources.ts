import type { AccessTokenFormat, Resource } from '../registry/types.ts';
import { resourceJson } from '../admin/representations.ts';
import { list, print, requirePositional, requireString, UsageError, type CommandArgs } from './io.ts';
import { databaseWords, withContext } from './with-context.ts';

export async function resourcesCommand(args: CommandArgs): Promise<number> {
  const sub = args.positionals[0];
  return withContext(args, async (_ctx, registry) => {
    switch (sub) {
      case 'create': {
        const ttl = args.values['access-token-ttl'];
        const resource = await registry.createResource({
          identifier: requireString(args.values, 'identifier'),
          name: typeof args.values.name === 'string' ? args.values.name : undefined,
          scopes: withDescriptions(list(args.values.scopes), args.values.describe),
          defaultScopes: list(args.values['default-scopes']),
          openScopes: list(args.values['open-scopes']),
          accessTokenTtlSeconds: typeof ttl === 'string' ? parseSeconds(ttl) : null,
          accessTokenFormat: typeof args.values['token-format'] === 'string' ? (args.values['token-format'] as AccessTokenFormat) : undefined,
        });
        print(args, resourceJson(resource), `created resource ${resource.identifier}\n${resourceText(resource)}`);
        return 0;
      }
      case 'update': {
        const identifier = requirePositional(args.positionals, 'the resource identifier');
        // A flag given (even empty, to clear) replaces that list; a flag left out keeps it.
        const given = (name: string) => (typeof args.values[name] === 'string' ? list(args.values[name]) : undefined);
        const defaultScopes = given('default-scopes');
        const openScopes = given('open-scopes');
        if (defaultScopes === undefined && openScopes === undefined) {
          throw new UsageError('resources update needs --default-scopes or --open-scopes');
        }
        const resource = await registry.updateResourceScopes(identifier, {
          ...(defaultScopes !== undefined ? { defaultScopes } : {}),
          ...(openScopes !== undefined ? { openScopes } : {}),
        });
        print(args, resourceJson(resource), `updated resource ${resource.identifier}\n${resourceText(resource)}`);
        return 0;
      }
      case 'list': {
        const resources = await registry.listResources();
        print(
          args,
          { resources: resources.map(resourceJson) },
          resources.length ? resources.map(resourceText).join('\n\n') : `no resources in ${databaseWords(_ctx)}`,
        );
        return 0;
      }
      case 'show': {
        const resource = await registry.getResource(requirePositional(args.positionals, 'the resource identifier'));
        print(args, resourceJson(resource), resourceText(resource));
        return 0;
      }
      case 'delete': {
        const identifier = requirePositional(args.positionals, 'the resource identifier');
        await registry.deleteResource(identifier);
        print(args, { deleted: identifier }, `deleted resource ${identifier}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown resources command "${sub ?? ''}"`);
    }
  });
}

/** `--describe SCOPE=TEXT` (repeatable): the words the consent page shows for a scope. */
function withDescriptions(scopes: string[], describe: CommandArgs['values'][string]): { scope: string; description: string }[] {
  const descriptions = new Map<string, string>();
  for (const item of Array.isArray(describe) ? describe : typeof describe === 'string' ? [describe] : []) {
    const eq = String(item).indexOf('=');
    if (eq <= 0) throw new UsageError('--describe takes SCOPE=TEXT, e.g. --describe "orders:read=Read your orders"');
    const scope = String(item).slice(0, eq).trim();
    if (!scopes.includes(scope)) throw new UsageError(`--describe names "${scope}", which is not in --scopes`);
    descriptions.set(scope, String(item).slice(eq + 1).trim());
  }
  return scopes.map((scope) => ({ scope, description: descriptions.get(scope) ?? '' }));
}

function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError('--access-token-ttl takes a whole number of seconds');
  return Number(value);
}

function resourceText(r: Resource): string {
  return [
    `identifier: ${r.identifier}`,
    `name:       ${r.name}`,
    `scopes:     ${r.scopes.map((s) => s.scope).join(' ') || '(none)'}`,
    ...r.scopes.filter((s) => s.description).map((s) => `  ${s.scope}: ${s.description}`),
    `default:    ${r.scopes.filter((s) => s.isDefault).map((s) => s.scope).join(' ') || '(none)'}`,
    `open to registered clients: ${r.scopes.filter((s) => s.openToRegisteredClients).map((s) => s.scope).join(' ') || '(none)'}`,
    `token ttl:  ${r.accessTokenTtlSeconds === null ? 'server default' : `${r.accessTokenTtlSeconds} s`}`,
    `tokens:     ${r.accessTokenFormat === 'opaque' ? 'opaque (validated by introspection)' : 'JWT (RFC 9068)'}`,
  ].join('\n');
}
