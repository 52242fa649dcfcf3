import type { ServerContext } from '../context.ts';
import { Registry } from '../registry/registry.ts';
import { openContext } from '../server.ts';
import type { CommandArgs } from './io.ts';

/** Opens the same database and keys the server uses, runs `fn`, and closes them. */
export async function withContext<T>(args: CommandArgs, fn: (ctx: ServerContext, registry: Registry) => Promise<T>): Promise<T> {
  const ctx = await openContext(args.settings, args.logger);
  try {
    return await fn(ctx, new Registry(ctx.storage));
  } finally {
    await ctx.storage.close();
  }
}
