/*
 * The fields that the usage-record filters share (Usage, Calls): the key (ADMIN), the status and the from–to
 * window, so each is written once (the window's time-zone handling above all).
 */
import { USAGE_STATUSES, type UsageStatus } from '../usage/record';

/** The choices of the key select: the keys the caller may filter on */
type KeyChoice = { id: string; name: string };

/** The key select, for ADMIN callers (who may read every key's records) */
export function KeyField<F extends { apiKeyId?: string | null }>({ keys, value, onChange }: { keys: readonly KeyChoice[]; value: F; onChange(filter: F): void }) {
  return (
    <label>
      Key
      <select value={value.apiKeyId ?? ''} onChange={(e) => onChange({ ...value, apiKeyId: e.currentTarget.value || undefined })}>
        <option value="">All keys</option>
        {keys.map((k) => (
          <option key={k.id} value={k.id}>
            {k.name}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The part of a filter StatusAndWindowFields edits; the filter's other fields pass through unchanged */
interface StatusAndWindow {
  status?: UsageStatus | null;
  from?: string | null;
  to?: string | null;
}

/** A datetime-local value (the browser's time zone) as an ISO instant, or undefined when empty */
const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);
const toLocal = (iso: string | null | undefined) => {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

export function StatusAndWindowFields<F extends StatusAndWindow>({ value, onChange }: { value: F; onChange(filter: F): void }) {
  const set = (field: keyof StatusAndWindow, read: (v: string) => unknown) => (e: Event) =>
    onChange({ ...value, [field]: read((e.currentTarget as HTMLInputElement).value) });

  return (
    <>
      <label>
        Status
        <select value={value.status ?? ''} onChange={set('status', (v) => v || undefined)}>
          <option value="">All statuses</option>
          {USAGE_STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        From
        <input type="datetime-local" value={toLocal(value.from)} onChange={set('from', toIso)} />
      </label>
      <label>
        To
        <input type="datetime-local" value={toLocal(value.to)} onChange={set('to', toIso)} />
      </label>
    </>
  );
}
