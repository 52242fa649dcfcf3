import type { Migration } from 'kysely';
import * as m0001 from './0001-initial.ts';
import * as m0002 from './0002-users.ts';
import * as m0003 from './0003-grants-and-codes.ts';
import * as m0004 from './0004-rate-limits.ts';
import * as m0005 from './0005-sessions.ts';
import * as m0006 from './0006-user-flows.ts';
import * as m0007 from './0007-resource-servers.ts';
import * as m0008 from './0008-device-codes.ts';
import * as m0009 from './0009-token-exchange.ts';
import * as m0010 from './0010-private-key-jwt.ts';
import * as m0011 from './0011-hardening.ts';
import * as m0012 from './0012-resource-indicators.ts';
import * as m0013 from './0013-client-registration.ts';
import * as m0014 from './0014-client-metadata-documents.ts';
import * as m0015 from './0015-dpop.ts';
import * as m0016 from './0016-pushed-authorization-requests.ts';
import * as m0018 from './0018-client-profiles.ts';
import * as m0017 from './0017-mtls.ts';
import * as m0019 from './0019-authentication-methods.ts';
import * as m0020 from './0020-totp.ts';
import * as m0021 from './0021-recovery-codes.ts';
import * as m0022 from './0022-session-devices.ts';
import * as m0023 from './0023-second-factor-policy.ts';
import * as m0024 from './0024-passkeys.ts';
import * as m0025 from './0025-email.ts';
import * as m0026 from './0026-signup.ts';
import * as m0027 from './0027-upstream-providers.ts';
import * as m0029 from './0029-backchannel-logout.ts';
import * as m0028 from './0028-key-rotation.ts';

/** Every migration by name; they run in the order of their names. A new one is added here. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-users': m0002,
  '0003-grants-and-codes': m0003,
  '0004-rate-limits': m0004,
  '0005-sessions': m0005,
  '0006-user-flows': m0006,
  '0007-resource-servers': m0007,
  '0008-device-codes': m0008,
  '0009-token-exchange': m0009,
  '0010-private-key-jwt': m0010,
  '0011-hardening': m0011,
  '0012-resource-indicators': m0012,
  '0013-client-registration': m0013,
  '0014-client-metadata-documents': m0014,
  '0015-dpop': m0015,
  '0016-pushed-authorization-requests': m0016,
  '0018-client-profiles': m0018,
  '0017-mtls': m0017,
  '0019-authentication-methods': m0019,
  '0020-totp': m0020,
  '0021-recovery-codes': m0021,
  '0022-session-devices': m0022,
  '0023-second-factor-policy': m0023,
  '0024-passkeys': m0024,
  '0025-email': m0025,
  '0026-signup': m0026,
  '0027-upstream-providers': m0027,
  '0029-backchannel-logout': m0029,
  '0028-key-rotation': m0028,
};

/** Every migration, in order. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS).sort();
