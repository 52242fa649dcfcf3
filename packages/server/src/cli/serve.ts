import { createServer } from '../server.ts';
import { migrate, openDatabase } from '../storage/database.ts';
import { unreachableDatabase } from '../storage/unavailable.ts';
import { print, type CommandArgs } from './io.ts';

/** `latchkey serve`: runs until SIGINT/SIGTERM, then closes connections and the database. */
export async function serveCommand(args: CommandArgs): Promise<number> {
  const server = await createServer(args.settings, { logger: args.logger });
  await server.listen();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      args.logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}

/** `latchkey migrate`: applies pending migrations and exits. */
export async function migrateCommand(args: CommandArgs): Promise<number> {
  let db;
  try {
    db = await openDatabase(args.settings);
  } catch (err) {
    throw unreachableDatabase(args.settings, err);
  }
  try {
    const applied = await migrate(db).catch((err: unknown) => {
      throw unreachableDatabase(args.settings, err);
    });
    print(
      args,
      { applied, database: db.location },
      applied.length ? `applied ${applied.join(', ')} to ${db.location}` : `${db.location} is up to date`,
    );
    return 0;
  } finally {
    await db.close();
  }
}
