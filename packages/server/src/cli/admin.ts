import { createAdminClient } from '../admin/bootstrap.ts';
import { clientJson } from '../admin/representations.ts';
import { print, requireString, UsageError, type CommandArgs } from './io.ts';
import { withContext } from './with-context.ts';

/** `latchkey admin create-client`: the first administrator of the admin API (docs/admin-api.md). */
export async function adminCommand(args: CommandArgs): Promise<number> {
  const sub = args.positionals[0];
  if (sub !== 'create-client') throw new UsageError(`unknown admin command "${sub ?? ''}"`);
  return withContext(args, async (_ctx, registry) => {
    const { client, clientSecret } = await createAdminClient(registry, { name: requireString(args.values, 'name'), readOnly: args.values['read-only'] === true });
    print(
      args,
      { client_id: client.clientId, client_secret: clientSecret, client: clientJson(client) },
      [
        `created admin API client ${client.name}`,
        `client_id:     ${client.clientId}`,
        `client_secret: ${clientSecret}`,
        `scopes:        ${client.scopes.map((s) => s.scope).join(' ')} (resource urn:latchkey:admin)`,
        '',
        'The secret is shown only this once; Latchkey keeps only its hash.',
      ].join('\n'),
    );
    return 0;
  });
}
