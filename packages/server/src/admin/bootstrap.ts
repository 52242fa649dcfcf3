import type { Client } from '../registry/types.ts';
import type { Registry } from '../registry/registry.ts';
import { ADMIN_READ, ADMIN_RESOURCE, ADMIN_WRITE, ensureAdminResource } from './admin-resource.ts';

/**
 * `latchkey admin create-client`: a confidential client that gets admin API tokens by the
 * client_credentials grant (RFC 6749 §4.4), for `urn:latchkey:admin` with admin:read and admin:write
 * (admin:read only when `readOnly`). The first administrator is made this way, from the CLI.
 */
export async function createAdminClient(registry: Registry, input: { name: string; readOnly?: boolean }): Promise<{ client: Client; clientSecret: string }> {
  await ensureAdminResource(registry);
  const { client, clientSecret } = await registry.createClient({
    name: input.name,
    type: 'confidential',
    grantTypes: ['client_credentials'],
    scopes: input.readOnly ? [ADMIN_READ] : [ADMIN_READ, ADMIN_WRITE],
    audiences: [ADMIN_RESOURCE],
  });
  // A confidential client_secret_basic client always has a secret (registry/registry.ts usesSecret).
  return { client, clientSecret: clientSecret! };
}
