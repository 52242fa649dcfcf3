import type { Settings } from '../config/defaults.ts';
import { newestKeys } from '../keys/rotation-schedule.ts';
import type { StoredSigningKey } from '../storage/signing-key-store.ts';
import { DAY_SECONDS, type Finding } from './finding.ts';

/** The age past which a key is due when the server does not rotate on its own (LATCHKEY_KEY_ROTATION_DAYS=0). */
export const MANUAL_ROTATION_DAYS = 90;
/** Longer than this, the schedule itself is flagged. */
const LONGEST_SENSIBLE_ROTATION_DAYS = 365;
/** The server checks every ten minutes; a key this much past its due time was not rotated by a running server. */
const OVERDUE_MARGIN_SECONDS = DAY_SECONDS;

const ROTATION_RFC = 'OpenID Connect Core 1.0 §10.1.1; NIST SP 800-57 Part 1 §5.3';

/**
 * Signing keys' ages against LATCHKEY_KEY_ROTATION_DAYS. OIDC Core §10.1.1: "Rotation of signing keys
 * can be accomplished with the following approach ... The signer publishes its keys in a JWK Set at its
 * jwks_uri location and includes the kid of the signing key in the JOSE Header of each message".
 */
export function keyFindings(settings: Settings, keys: readonly StoredSigningKey[], now: number): Finding[] {
  const findings: Finding[] = [];
  const days = settings.keyRotationDays;
  if (days === 0) {
    findings.push({
      id: 'keys.rotation-off',
      severity: 'low',
      title: 'signing keys rotate only by hand',
      detail: 'LATCHKEY_KEY_ROTATION_DAYS is 0: a key signs until someone runs latchkey keys rotate',
      rfc: ROTATION_RFC,
      fix: `LATCHKEY_KEY_ROTATION_DAYS=${MANUAL_ROTATION_DAYS}`,
      subject: null,
    });
  } else if (days > LONGEST_SENSIBLE_ROTATION_DAYS) {
    findings.push({
      id: 'keys.rotation-long',
      severity: 'low',
      title: `signing keys rotate every ${days} days`,
      detail: `LATCHKEY_KEY_ROTATION_DAYS is ${days}: a key that leaked unnoticed signs tokens for that long`,
      rfc: ROTATION_RFC,
      fix: `LATCHKEY_KEY_ROTATION_DAYS=${MANUAL_ROTATION_DAYS}`,
      subject: null,
    });
  }
  const limitDays = days === 0 ? MANUAL_ROTATION_DAYS : days;
  for (const key of newestKeys(keys).values()) {
    const ageDays = Math.floor((now - key.createdAt) / DAY_SECONDS);
    const overdueAt = key.createdAt + limitDays * DAY_SECONDS + (days === 0 ? 0 : OVERDUE_MARGIN_SECONDS);
    if (now < overdueAt) continue;
    findings.push({
      id: 'keys.rotation-due',
      severity: 'medium',
      title: `the ${key.alg} signing key is ${ageDays} days old`,
      detail:
        days === 0
          ? `${key.kid} was created ${new Date(key.createdAt * 1000).toISOString()}; keys older than ${MANUAL_ROTATION_DAYS} days are due (rotation is by hand)`
          : `${key.kid} was created ${new Date(key.createdAt * 1000).toISOString()}, more than LATCHKEY_KEY_ROTATION_DAYS=${days} ago, and the server has not rotated it: is a server running on this database, and does its log show "scheduled key rotation check failed"?`,
      rfc: ROTATION_RFC,
      fix: `latchkey keys rotate --alg ${key.alg}`,
      subject: key.kid,
    });
  }
  return findings;
}
