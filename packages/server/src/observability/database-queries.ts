import { performance } from 'node:perf_hooks';
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { LogEvent } from 'kysely';
import type { Dialect, QueryObserver } from '../storage/database.ts';
import type { DbOperation, ServerMetrics } from './metrics.ts';
import { activeTracer } from './tracing.ts';

/** Kysely's root operation nodes, by the operation they are. */
const OPERATIONS: Record<string, DbOperation> = {
  SelectQueryNode: 'select',
  InsertQueryNode: 'insert',
  UpdateQueryNode: 'update',
  DeleteQueryNode: 'delete',
};

/** Statements written as SQL text: only their first keyword is looked at. */
const RAW_OPERATIONS: Record<string, DbOperation> = {
  select: 'select',
  with: 'select',
  insert: 'insert',
  update: 'update',
  delete: 'delete',
  begin: 'transaction',
  commit: 'transaction',
  rollback: 'transaction',
  savepoint: 'transaction',
  release: 'transaction',
};

/** A statement's operation: from the query builder's node, or the first keyword of raw SQL. Never the SQL itself. */
export function queryOperation(event: LogEvent): DbOperation {
  const kind = event.query.query.kind;
  const known = OPERATIONS[kind];
  if (known) return known;
  const keyword = /^\s*([a-z]+)/i.exec(event.query.sql)?.[1]?.toLowerCase();
  return (keyword !== undefined ? RAW_OPERATIONS[keyword] : undefined) ?? 'other';
}

/**
 * Each statement's duration into latchkey_server_db_query_duration_seconds, and, inside a traced
 * request, a child span (OpenTelemetry database semantic conventions: `db.system`, `db.operation`)
 * dated back by its duration, since Kysely reports a statement once it has run. No SQL text, no
 * parameters: they may hold tokens' hashes, user names or addresses.
 */
export function databaseQueryObserver(dialect: Dialect, metrics: ServerMetrics | undefined): QueryObserver {
  const system = dialect === 'postgres' ? 'postgresql' : 'sqlite';
  return (event) => {
    const operation = queryOperation(event);
    metrics?.dbQueryDuration.observe({ operation }, event.queryDurationMillis / 1000);
    const tracer = activeTracer();
    if (tracer === undefined) return;
    const endTime = performance.timeOrigin + performance.now();
    const span = tracer.startSpan(
      `${operation} ${system}`,
      {
        kind: SpanKind.CLIENT,
        startTime: endTime - event.queryDurationMillis,
        attributes: { 'db.system': system, 'db.operation': operation },
      },
      context.active(),
    );
    if (event.level === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: errorName(event.error) });
    span.end(endTime);
  };
}

function errorName(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code.slice(0, 40) : error instanceof Error ? error.name : 'error';
}
