import type { ServerContext } from '../context.ts';
import { discoveryFindings, type DiscoveryOptions } from './discovery.ts';
import { accessTokenLifetimeFinding, deploymentFindings } from './deployment.ts';
import { clientFindings, clientSummary, clientUse, type ClientSummary } from './clients.ts';
import { keyFindings } from './keys.ts';
import { policyFindings } from './policies.ts';
import { rank, SEVERITIES, shellWord, type Finding, type Severity } from './finding.ts';

export interface DoctorReport {
  issuer: string;
  /** The database read, in words (never a password). */
  database: string;
  checked_at: string;
  /** How many findings of each severity. */
  counts: Record<Severity, number>;
  /** Most severe first. */
  findings: Finding[];
  /** The four questions, per client: grants, scopes, where refresh tokens live, how they are revoked. */
  clients: ClientSummary[];
}

/**
 * Audits the deployment `ctx` is (its settings, database, keys and registrations) and, with
 * `discovery`, the metadata the running server publishes. Reads only.
 */
export async function runDoctor(ctx: ServerContext, options: { discovery?: DiscoveryOptions } = {}): Promise<DoctorReport> {
  const now = ctx.now();
  const { settings, storage } = ctx;
  const findings: Finding[] = [...deploymentFindings(settings), ...policyFindings(settings)];
  findings.push(...keyFindings(settings, await storage.signingKeys.listAll(), now));
  for (const resource of await storage.resources.list()) {
    if (resource.accessTokenTtlSeconds === null) continue;
    const f = accessTokenLifetimeFinding(
      resource.accessTokenTtlSeconds,
      `the resource ${resource.identifier}'s own lifetime`,
      `a resource's lifetime is set when it is registered: latchkey resources create --identifier ${shellWord(resource.identifier)} ... --access-token-ttl 600 (for a new identifier), or leave it to LATCHKEY_ACCESS_TOKEN_TTL_SECONDS`,
      resource.identifier,
    );
    if (f) findings.push(f);
  }
  const clients = await storage.clients.list();
  const uses = await clientUse(storage.db.kysely, now);
  for (const client of clients) findings.push(...clientFindings(client, uses.get(client.clientId), settings, now));
  if (options.discovery) findings.push(...(await discoveryFindings(settings, options.discovery)));
  // Most severe first; within a severity, deployment-wide before per-subject, then by id.
  findings.sort((a, b) => rank(b.severity) - rank(a.severity) || Number(a.subject !== null) - Number(b.subject !== null) || a.id.localeCompare(b.id) || (a.subject ?? '').localeCompare(b.subject ?? ''));
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length])) as Record<Severity, number>;
  return {
    issuer: settings.issuer,
    database: storage.db.dialect === 'sqlite' ? storage.db.location : `PostgreSQL ${storage.db.location.replace(/^postgres:\/\//, '')}`,
    checked_at: new Date(now * 1000).toISOString(),
    counts,
    findings,
    clients: clients.map((c) => clientSummary(c, uses.get(c.clientId), settings)),
  };
}

/** The report as text: the findings, most severe first, then the four questions per client. */
export function reportText(report: DoctorReport): string {
  const lines = [`latchkey doctor: ${report.issuer} (${report.database})`, ''];
  if (report.findings.length === 0) lines.push('No findings.');
  for (const f of report.findings) {
    lines.push(`${f.severity.toUpperCase().padEnd(6)} ${f.id}${f.subject ? ` [${f.subject}]` : ''}: ${f.title}`);
    lines.push(`       ${f.detail}`);
    lines.push(`       ${f.rfc}`);
    lines.push(`       fix: ${f.fix}`);
    lines.push('');
  }
  lines.push(`${SEVERITIES.slice().reverse().map((s) => `${report.counts[s]} ${s}`).join(', ')}`);
  lines.push('', `Clients (${report.clients.length}): grants, scopes, where refresh tokens live, how they are revoked`);
  const more = (items: string[]) => items.map((item, i) => (i === 0 ? item : `           ${item}`));
  for (const c of report.clients) {
    lines.push('', `${c.client_id} (${c.name}): ${c.type}, ${c.auth_method}, ${c.source}; ${c.live_grants} live grant(s)`);
    lines.push(`  grants:  ${c.grant_types.join(' ') || '(none: introspection only)'}`);
    lines.push(`  scopes:  ${c.scopes.join(' ') || '(none)'}`);
    const r = c.refresh_tokens;
    const refresh = r
      ? [r.where, `${r.rotation}; ${r.reuse}`, `bound to ${r.bound_to}`, `grace ${r.grace_seconds} s; a family lasts ${r.family_lifetime_seconds} s at most; ${r.live} live`]
      : ['none (not registered for refresh_token)'];
    lines.push(...more(refresh).map((line, i) => (i === 0 ? `  refresh: ${line}` : line)));
    lines.push(...more(c.revocation).map((line, i) => (i === 0 ? `  revoked: ${line}` : line)));
  }
  return lines.join('\n');
}
