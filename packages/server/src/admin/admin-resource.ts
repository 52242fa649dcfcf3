import { ConfigError, RegistryError } from '../errors.ts';
import type { Registry } from '../registry/registry.ts';

/** The built-in resource the admin API is (docs/admin-api.md): its tokens' `aud`. */
export const ADMIN_RESOURCE = 'urn:latchkey:admin';
/** Reading anything the admin API shows. */
export const ADMIN_READ = 'admin:read';
/** Changing anything: implies reading. */
export const ADMIN_WRITE = 'admin:write';
/** Both: not advertised in discovery (endpoints/discovery.ts). */
export const ADMIN_SCOPES: readonly string[] = [ADMIN_READ, ADMIN_WRITE];

/**
 * Makes sure the built-in resource `urn:latchkey:admin` exists, with the scopes admin:read and
 * admin:write (run at every start and before `latchkey admin create-client`; a no-op when it exists).
 * Two nodes starting at once: the second one's create conflicts, and it finds the first one's.
 */
export async function ensureAdminResource(registry: Registry): Promise<void> {
  if (await exists(registry)) return;
  try {
    await registry.createResource({
      identifier: ADMIN_RESOURCE,
      name: 'Latchkey admin API',
      scopes: [
        { scope: ADMIN_READ, description: 'Read the configuration of this Latchkey server' },
        { scope: ADMIN_WRITE, description: 'Change the configuration of this Latchkey server' },
      ],
    });
  } catch (err) {
    if (!(err instanceof RegistryError && err.code === 'conflict')) throw err;
    if (await exists(registry)) return;
    throw new ConfigError(`the admin API's resource ${ADMIN_RESOURCE} cannot be created: ${err.message} (another resource owns admin:read or admin:write)`);
  }
}

async function exists(registry: Registry): Promise<boolean> {
  try {
    await registry.getResource(ADMIN_RESOURCE);
    return true;
  } catch (err) {
    if (err instanceof RegistryError && err.code === 'not_found') return false;
    throw err;
  }
}
