import type { Expression, ExpressionBuilder, Kysely, SqlBool } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Deletes at most `limit` rows of `table` that match `where`, in one statement (`DELETE ... WHERE key
 * IN (SELECT key ... LIMIT n)`, which both SQLite and PostgreSQL accept): the janitor's bounded batch,
 * so a purge never holds a long lock.
 */
export async function deleteBatch<T extends keyof Database & string>(
  db: Kysely<Database>,
  table: T,
  key: keyof Database[T] & string,
  where: (eb: ExpressionBuilder<Database, T>) => Expression<SqlBool>,
  limit: number,
): Promise<number> {
  // Kysely cannot type a query over a table chosen by a type parameter; the signature above keeps the
  // callers typed.
  const untyped = db as unknown as Kysely<any>;
  const name: string = table;
  const column: string = key;
  const result = await untyped
    .deleteFrom(name)
    .where(column, 'in', untyped.selectFrom(name).select(column).where(where as never).limit(limit))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
