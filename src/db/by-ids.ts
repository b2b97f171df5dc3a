/* Node loading's shape: rows by id, in the order asked, null where there is none. */
import { isUuid } from '../util/input-rules.js';

/** `load` is given only the ids that are UUIDs (anything else matches nothing), and is not called without any. */
export async function byIdsInOrder<T extends { id: string }>(ids: readonly string[], load: (valid: string[]) => Promise<T[]>): Promise<Array<T | null>> {
  const valid = ids.filter(isUuid);
  const found = new Map((valid.length ? await load(valid) : []).map((r) => [r.id, r]));
  return ids.map((id) => found.get(id) ?? null);
}
