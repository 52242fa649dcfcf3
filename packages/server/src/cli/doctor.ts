import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { runDoctor, reportText } from '../doctor/doctor.ts';
import { ConfigError } from '../errors.ts';
import { sqliteFile } from '../storage/database.ts';
import { atLeast, isSeverity, SEVERITIES, type Severity } from '../doctor/finding.ts';
import { print, UsageError, type CommandArgs } from './io.ts';
import { withContext } from './with-context.ts';

/** Without --fail-on, only high findings fail the command. */
export const DEFAULT_FAIL_ON: Severity = 'high';

/**
 * `latchkey doctor`: audits the deployment (its settings, database, keys and clients), and with
 * --issuer the metadata the running server publishes. Exit status 0 when no finding is at or above
 * --fail-on (default high), 1 when one is (README: "Audit a deployment: latchkey doctor").
 */
export async function doctorCommand(args: CommandArgs): Promise<number> {
  const failOn = typeof args.values['fail-on'] === 'string' ? args.values['fail-on'] : DEFAULT_FAIL_ON;
  if (!isSeverity(failOn) || failOn === 'info') throw new UsageError(`--fail-on must be one of ${SEVERITIES.slice(1).join(', ')}`);
  // It only reads: where there is no database it says so instead of creating an empty one.
  if (!args.settings.databaseUrl && !existsSync(sqliteFile(args.settings.dataDir))) {
    throw new ConfigError(
      `there is no Latchkey database in ${resolve(args.settings.dataDir)} (LATCHKEY_DATA_DIR, relative to ${process.cwd()}): run this where the server runs, or set LATCHKEY_DATA_DIR (or DATABASE_URL) to the server's`,
    );
  }
  const issuer = typeof args.values.issuer === 'string' ? args.values.issuer : undefined;
  const report = await withContext(args, (ctx) =>
    runDoctor(ctx, issuer === undefined ? {} : { discovery: { issuer, allowLoopback: args.values['allow-loopback'] === true } }),
  );
  const failed = report.findings.filter((f) => atLeast(f.severity, failOn)).length;
  const status = failed > 0 ? 1 : 0;
  print(
    args,
    { ...report, fail_on: failOn, exit_status: status },
    `${reportText(report)}\n\n${failed > 0 ? `${failed} finding(s) at or above ${failOn}: exit status 1` : `nothing at or above ${failOn}: exit status 0`}`,
  );
  return status;
}
