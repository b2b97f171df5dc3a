/* The rows of a raw `db.execute(sql…)`: postgres.js answers an array, PGlite (drizzle's driver) `{ rows }`. */
export function rowsOf<T>(res: unknown): T[] {
  return (Array.isArray(res) ? res : (res as { rows: T[] }).rows) as T[];
}
