import type { Settings } from '../config/defaults.ts';
import type { Client } from '../registry/types.ts';

/**
 * The refresh grace window of a client, in seconds: its own setting, else the server's
 * (`LATCHKEY_REFRESH_GRACE_SECONDS`) for confidential clients and none for public ones. A public
 * client authenticates with its client_id alone, so within a window whoever replays its just-rotated
 * refresh token would receive the victim's fresh pair (RFC 9700 §4.14.2 asks rotation to expose such
 * replays, and a window hides them); a confidential client's replay needs its secret too.
 */
export function refreshGraceSeconds(client: Client, settings: Settings): number {
  if (client.refreshGraceSeconds !== null) return client.refreshGraceSeconds;
  return client.type === 'public' ? 0 : settings.refreshGraceSeconds;
}
