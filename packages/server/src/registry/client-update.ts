import type { ClientProfile, Client } from './types.ts';
import type { Registry } from './registry.ts';

/** What `latchkey clients update` and the admin API's `PATCH /clients/{id}` can change; a field left out stays. */
export interface ClientSettingsChange {
  /** Seconds (0-60), or null for the client type's default (grants/refresh-grace.ts). */
  refreshGraceSeconds?: number | null;
  requirePushedAuthorizationRequests?: boolean;
  requireSecondFactor?: boolean;
  requirePasskey?: boolean;
  profile?: ClientProfile;
  /** Back-Channel Logout §2.2: where logout tokens are posted (null: nowhere) and whether `sid` is required. */
  backchannelLogout?: { uri: string | null; sessionRequired: boolean };
}

/** Whether the change changes anything. */
export function changesSomething(change: ClientSettingsChange): boolean {
  return Object.values(change).some((v) => v !== undefined);
}

/** Applies the change, in the order that leaves a client refused its profile unchanged; returns the client. */
export async function updateClientSettings(registry: Registry, clientId: string, change: ClientSettingsChange): Promise<Client> {
  if (change.requireSecondFactor !== undefined) await registry.setRequireSecondFactor(clientId, change.requireSecondFactor);
  if (change.requirePasskey !== undefined) await registry.setRequirePasskey(clientId, change.requirePasskey);
  // The profile first: a client refused it is left unchanged.
  if (change.profile !== undefined) await registry.setProfile(clientId, change.profile);
  if (change.refreshGraceSeconds !== undefined) await registry.setRefreshGrace(clientId, change.refreshGraceSeconds);
  if (change.requirePushedAuthorizationRequests !== undefined) {
    await registry.setRequirePushedAuthorizationRequests(clientId, change.requirePushedAuthorizationRequests);
  }
  if (change.backchannelLogout !== undefined) {
    await registry.setBackchannelLogout(clientId, change.backchannelLogout.uri, change.backchannelLogout.sessionRequired);
  }
  return registry.getClient(clientId);
}
