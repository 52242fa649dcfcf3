import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ServerContext } from '../context.ts';
import { ConfigError } from '../errors.ts';
import { Registry } from '../registry/registry.ts';
import { openContext } from '../server.ts';
import { sqliteFile } from '../storage/database.ts';
import type { CommandArgs } from './io.ts';

/** Subcommands that only read: they never create a database where there was none. */
const READING = new Set(['list', 'show', 'factors']);

/**
 * Opens the same database and keys the server uses, runs `fn`, and closes them. A command that only
 * reads, run where there is no database (another directory than the server's), says so and how to
 * point at the server's, instead of creating an empty one there (issue 19).
 */
export async function withContext<T>(args: CommandArgs, fn: (ctx: ServerContext, registry: Registry) => Promise<T>): Promise<T> {
  const { settings } = args;
  if (!settings.databaseUrl && args.positionals.slice(0, 2).some((word) => READING.has(word)) && !existsSync(sqliteFile(settings.dataDir))) {
    throw new ConfigError(
      `there is no Latchkey database in ${resolve(settings.dataDir)} (LATCHKEY_DATA_DIR, relative to ${process.cwd()}): run this where the server runs, or set LATCHKEY_DATA_DIR (or DATABASE_URL) to the server's`,
    );
  }
  const ctx = await openContext(settings, args.logger);
  try {
    return await fn(ctx, new Registry(ctx.storage));
  } finally {
    await ctx.storage.close();
  }
}

/** The database a command used, in words: the SQLite file, or PostgreSQL's host and database. */
export function databaseWords(ctx: ServerContext): string {
  return ctx.storage.db.dialect === 'sqlite' ? ctx.storage.db.location : `PostgreSQL ${ctx.storage.db.location.replace(/^postgres:\/\//, '')}`;
}
