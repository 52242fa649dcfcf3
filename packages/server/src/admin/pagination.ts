import { BadRequest } from './problems.ts';

/** `?limit=` when none is given, and the most one page holds. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** One page of a list, and the cursor of the next (null on the last page). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * Cursor pagination over a list in a stable order (by `key`, ascending): the cursor is opaque to the
 * caller (base64url of the last key seen), so a page is the same whatever was added before it.
 */
export function paginate<T>(all: T[], key: (item: T) => string, query: { limit?: unknown; cursor?: unknown }): Page<T> {
  const limit = pageSize(query.limit);
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const sorted = [...all].sort((a, b) => compare(key(a), key(b)));
  const rest = after === undefined ? sorted : sorted.filter((item) => compare(key(item), after) > 0);
  const items = rest.slice(0, limit);
  const more = rest.length > limit;
  return { items, next_cursor: more ? Buffer.from(JSON.stringify({ after: key(items[items.length - 1]!) })).toString('base64url') : null };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function pageSize(value: unknown): number {
  if (value === undefined) return DEFAULT_PAGE_SIZE;
  if (typeof value !== 'string' || !/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > MAX_PAGE_SIZE) {
    throw new BadRequest(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`, 'limit');
  }
  return Number(value);
}

function decodeCursor(value: unknown): string {
  if (typeof value === 'string' && /^[A-Za-z0-9_-]{1,1024}$/.test(value)) {
    try {
      const decoded = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as { after?: unknown };
      if (typeof decoded.after === 'string') return decoded.after;
    } catch {
      // Falls through to the error below.
    }
  }
  throw new BadRequest('cursor is not one this API gave out: use next_cursor as it came', 'cursor');
}
