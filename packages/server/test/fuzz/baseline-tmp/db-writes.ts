import SQLite from 'better-sqlite3';
import pg from 'pg';
import type { TestDatabase } from '@latchkey/testing';

/**
 * "Nothing written for refused input", checked around every refused request, on every table: on
 * SQLite, every row the request inserted, updated or deleted (recorded with its old and new content
 * by TEMP triggers of the server's connection); on PostgreSQL, every table's content before (a held
 * REPEATABLE READ snapshot) and after. These writes on refusal are by design and not counted:
 */
export const EXCLUDED_TABLES: Readonly<Record<string, string>> = {
  rate_limits:
    'counters of failed logins (per account and per address) and of user-code attempts on the device page (per session and per address): ' +
    'counting refused attempts is what they are for (login throttling, RFC 8628 §5.1)',
  login_throttles:
    'failed logins per account and the time of the last one, for the growing delay between attempts (login throttling): ' +
    'a refused login is what they count',
  replay_cache:
    'the jti of a client assertion that verified is spent when the client authenticates, before the rest of the request is judged ' +
    '(RFC 7523 §3 item 7): a request refused later must not leave its assertion replayable',
};

/** Columns whose changes on refusal are by design. */
export const EXCLUDED_COLUMNS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  sessions: {
    last_seen_at: 'a request carrying a live SSO session cookie moves the session\'s idle timer forward (at most once a minute), whatever the request asks',
  },
};

/**
 * Columns whose changes are by design only for some refusals: a device polling with its own device
 * code (authorization_pending, slow_down, ...) has the poll recorded, so that polling faster than the
 * interval is answered slow_down with a longer interval (RFC 8628 §3.5). A poll by any other client
 * must leave the code alone.
 */
export const DEVICE_POLL_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  device_codes: ['last_polled_at', 'interval_seconds'],
};

interface TableContent {
  rows: number;
  /** Every row, columns quoted, one per line (minus the excluded columns). */
  content: string;
  /** The same without the device-poll columns. */
  withoutPoll: string;
}

export type Snapshot = Map<string, TableContent>;

/**
 * Watches the tables around one request: `start()` before it is sent, `changes()` after it was
 * refused (what it wrote, minus the exclusions), `finish()` in any case.
 */
export interface WriteWatch {
  start(): Promise<void>;
  changes(allow: { devicePoll: boolean }): Promise<string[]>;
  finish(): Promise<void>;
  close(): Promise<void>;
}

/** The tables whose writes on refusal are violations, as `table: what changed` lines. */
export function changedTables(before: Snapshot, after: Snapshot, allow: { devicePoll: boolean }): string[] {
  const changes: string[] = [];
  for (const [table, now] of after) {
    if (table in EXCLUDED_TABLES) continue;
    const was = before.get(table);
    if (!was) {
      changes.push(`${table}: a new table`);
      continue;
    }
    const [a, b] = allow.devicePoll ? [was.withoutPoll, now.withoutPoll] : [was.content, now.content];
    if (a === b) continue;
    const oldRows = new Set(a.split('\n'));
    const newRows = new Set(b.split('\n'));
    const added = [...newRows].filter((r) => !oldRows.has(r)).slice(0, 2);
    const removed = [...oldRows].filter((r) => !newRows.has(r)).slice(0, 2);
    changes.push(
      `${table}: ${was.rows} -> ${now.rows} rows` +
        (removed.length ? `; was ${removed.map((r) => r.slice(0, 300)).join(' | ')}` : '') +
        (added.length ? `; now ${added.map((r) => r.slice(0, 300)).join(' | ')}` : ''),
    );
  }
  return changes;
}

function maskedColumns(table: string, columns: string[]): { kept: string[]; keptWithoutPoll: string[] } {
  const excluded = Object.keys(EXCLUDED_COLUMNS[table] ?? {});
  const kept = columns.filter((c) => !excluded.includes(c));
  const poll = DEVICE_POLL_COLUMNS[table] ?? [];
  return { kept, keptWithoutPoll: kept.filter((c) => !poll.includes(c)) };
}

/**
 * SQLite: TEMP triggers on the server's own connection record every row the request inserted,
 * updated or deleted, with its content before and after (in a temp table of that connection: nothing
 * is added to the database file, and nothing is read when nothing was written). A change is a row
 * inserted or deleted, or updated in a column that is not excluded.
 */
export class SqliteTables implements WriteWatch {
  private readonly written: SQLite.Statement;
  private readonly clear: SQLite.Statement;

  /** `server`: the server's own connection (where the triggers go). */
  constructor(server: SQLite.Database) {
    // No constraint on it: a trigger's statement runs under the conflict policy of the statement that
    // fired it (an upsert's), so it must never conflict.
    server.exec('create temp table if not exists fuzz_writes (name text, op text, old_kept text, new_kept text, old_no_poll text, new_no_poll text)');
    const tables = server.prepare("select name from main.sqlite_master where type = 'table' and name not like 'sqlite_%'").pluck().all() as string[];
    for (const table of tables) {
      if (table in EXCLUDED_TABLES) continue;
      const columns = (server.prepare(`pragma main.table_info("${table}")`).all() as { name: string }[]).map((c) => c.name);
      const { kept, keptWithoutPoll } = maskedColumns(table, columns);
      const row = (ref: 'NEW' | 'OLD', cols: string[]) => (cols.length === 0 ? "''" : cols.map((c) => `quote(${ref}."${c}")`).join(" || ',' || "));
      const values = {
        insert: `null, ${row('NEW', kept)}, null, ${row('NEW', keptWithoutPoll)}`,
        update: `${row('OLD', kept)}, ${row('NEW', kept)}, ${row('OLD', keptWithoutPoll)}, ${row('NEW', keptWithoutPoll)}`,
        delete: `${row('OLD', kept)}, null, ${row('OLD', keptWithoutPoll)}, null`,
      };
      for (const [event, v] of Object.entries(values)) {
        server.exec(
          `create temp trigger if not exists "fuzz_${table}_${event}" after ${event} on main."${table}" ` +
            `begin insert into temp.fuzz_writes values ('${table}', '${event}', ${v}); end`,
        );
      }
    }
    this.written = server.prepare('select * from temp.fuzz_writes');
    this.clear = server.prepare('delete from temp.fuzz_writes');
  }

  async start(): Promise<void> {
    this.clear.run();
  }

  async changes(allow: { devicePoll: boolean }): Promise<string[]> {
    const changes: string[] = [];
    for (const w of this.written.all() as Written[]) {
      const [before, after] = allow.devicePoll ? [w.old_no_poll, w.new_no_poll] : [w.old_kept, w.new_kept];
      if (w.op === 'update' && before === after) continue;
      changes.push(`${w.name}: ${w.op} ${w.op === 'insert' ? clip(after) : clip(before)}${w.op === 'update' ? ` -> ${clip(after)}` : ''}`);
    }
    return changes;
  }

  async finish(): Promise<void> {}

  async close(): Promise<void> {}
}

interface Written {
  name: string;
  op: 'insert' | 'update' | 'delete';
  old_kept: string | null;
  new_kept: string | null;
  old_no_poll: string | null;
  new_no_poll: string | null;
}

const clip = (row: string | null) => (row === null ? '' : row.length > 300 ? `${row.slice(0, 300)}...` : row);

/**
 * PostgreSQL: a REPEATABLE READ transaction on a connection of our own holds the state before the
 * request. The next transaction id to be assigned (pg_current_snapshot's xmax) moves only when some
 * transaction wrote: when it did not, nothing was written and nothing is read; otherwise every table
 * is read in the held state and in the current one, and compared. (Writes in other databases of the
 * cluster move it too: then the comparison runs for nothing, and still finds nothing.)
 */
export class PostgresTables implements WriteWatch {
  private query = '';
  private xmax = '';

  private readonly held: pg.Client;
  private readonly current: pg.Client;

  private constructor(
    held: pg.Client,
    current: pg.Client,
  ) {
    this.held = held;
    this.current = current;
  }

  static async open(database: TestDatabase): Promise<PostgresTables> {
    const held = new pg.Client({ connectionString: database.databaseUrl });
    const current = new pg.Client({ connectionString: database.databaseUrl });
    await held.connect();
    await current.connect();
    const reader = new PostgresTables(held, current);
    const { rows } = await current.query<{ table_name: string; column_name: string }>(
      "select table_name, column_name from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position",
    );
    const byTable = new Map<string, string[]>();
    for (const r of rows) if (!(r.table_name in EXCLUDED_TABLES)) byTable.set(r.table_name, [...(byTable.get(r.table_name) ?? []), r.column_name]);
    const parts: string[] = [];
    for (const [table, columns] of byTable) {
      const { kept, keptWithoutPoll } = maskedColumns(table, columns);
      const row = (cols: string[]) => (cols.length === 0 ? "''" : `concat_ws(',', ${cols.map((c) => `quote_nullable("${c}")`).join(', ')})`);
      parts.push(
        `select '${table}' as t, count(*)::int as rows, coalesce(string_agg(${row(kept)}, E'\\n' order by ${row(kept)}), '') as content, ` +
          `coalesce(string_agg(${row(keptWithoutPoll)}, E'\\n' order by ${row(keptWithoutPoll)}), '') as "withoutPoll" from "${table}"`,
      );
    }
    reader.query = parts.join(' union all ');
    return reader;
  }

  private async snapshot(client: pg.Client): Promise<Snapshot> {
    const { rows } = await client.query<{ t: string } & TableContent>(this.query);
    return new Map(rows.map((r) => [r.t, { rows: r.rows, content: r.content, withoutPoll: r.withoutPoll }]));
  }

  async start(): Promise<void> {
    await this.held.query('begin isolation level repeatable read');
    // The first query fixes the transaction's snapshot.
    const { rows } = await this.held.query<{ xmax: string }>('select pg_snapshot_xmax(pg_current_snapshot())::text as xmax');
    this.xmax = rows[0]!.xmax;
  }

  async changes(allow: { devicePoll: boolean }): Promise<string[]> {
    const { rows } = await this.current.query<{ xmax: string }>('select pg_snapshot_xmax(pg_current_snapshot())::text as xmax');
    if (rows[0]!.xmax === this.xmax) return [];
    return changedTables(await this.snapshot(this.held), await this.snapshot(this.current), allow);
  }

  async finish(): Promise<void> {
    await this.held.query('commit');
  }

  async close(): Promise<void> {
    await this.held.end();
    await this.current.end();
  }
}
