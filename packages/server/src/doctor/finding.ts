/**
 * What `latchkey doctor` reports (README: "Audit a deployment: latchkey doctor"): one finding per
 * weakness of the deployment or of a registration, each with how much it matters, the specification
 * section it comes from and the exact command or setting that removes it.
 */

export type Severity = 'info' | 'low' | 'medium' | 'high';

/** Least to most severe: a finding's rank is its index. */
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high'];

export interface Finding {
  /** Stable identifier, `group.what`: `issuer.http`, `client.shared-secret` (CI may allow-list ids). */
  id: string;
  severity: Severity;
  /** One line. */
  title: string;
  /** What was seen, with the values that matter (never a secret). */
  detail: string;
  /** The section that asks for it: `RFC 9700 §2.1.1`. */
  rfc: string;
  /** The exact command or setting that removes the finding. */
  fix: string;
  /** The client id, resource or key id it is about; null for the deployment as a whole. */
  subject: string | null;
}

export function rank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/** Whether `severity` is `threshold` or worse. */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return rank(severity) >= rank(threshold);
}

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/** A value for a shell command line: as is when it is plain, else in single quotes. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export const DAY_SECONDS = 24 * 3600;
