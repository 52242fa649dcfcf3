/** PostgreSQL returns BIGINT columns as strings; SQLite as numbers. Both become numbers here. */
export function toInt(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

export function toIntOrNull(value: number | string | bigint | null): number | null {
  return value === null ? null : toInt(value);
}
