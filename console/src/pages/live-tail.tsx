/*
 * Usage records as they are written (usageRecorded over graphql-ws), newest on top, after the latest few already
 * recorded. Paused, new records are counted but held back until resumed; the filters apply to what has arrived,
 * in the browser.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ErrorNote } from '../components/error-note';
import { Page } from '../components/page';
import { UsageRecordDrawer } from '../components/usage-record-drawer';
import { UsageRecordTable } from '../components/usage-record-table';
import { formatInt } from '../format';
import { useSession } from '../session';
import { keyLabel, USAGE_STATUSES, type UsageRecord } from '../usage/record';
import { useFeedConnected } from '../usage/use-feed-connection';
import { useRecentUsage } from '../usage/use-recent-usage';
import { useUsageFeed } from '../usage/use-usage-feed';
import './live-tail.css';

/** The most records kept on screen (and held back while paused) */
const KEEP = 500;
/** Records already written shown on opening */
const BACKLOG = 50;

interface TailFilters {
  model: string;
  key: string;
  status: string;
}

const matches = (r: UsageRecord, f: TailFilters) =>
  (!f.model || r.model === f.model) && (!f.key || r.apiKey?.id === f.key) && (!f.status || r.status === f.status);

export function LiveTailPage() {
  const [shown, setShown] = useState<UsageRecord[]>([]);
  const [held, setHeld] = useState<UsageRecord[]>([]);
  const [paused, setPaused] = useState(false);
  const [filters, setFilters] = useState<TailFilters>({ model: '', key: '', status: '' });
  const [open, setOpen] = useState<UsageRecord | null>(null);

  const connected = useFeedConnected();
  // other keys see their own records only, so a key filter would have one choice
  const admin = useSession().can('ADMIN');
  const { error } = useUsageFeed((record) => {
    if (paused) setHeld((h) => [record, ...h].slice(0, KEEP));
    else setShown((s) => [record, ...s].slice(0, KEEP));
  });

  // the latest records already written go below whatever the feed brought meanwhile (once each)
  const recent = useRecentUsage(BACKLOG);
  useEffect(() => {
    if (!recent) return;
    setShown((s) => {
      const seen = new Set(s.map((r) => r.id));
      return [...s, ...recent.filter((r) => !seen.has(r.id))].slice(0, KEEP);
    });
  }, [recent]);

  function resume() {
    setShown((s) => [...held, ...s].slice(0, KEEP));
    setHeld([]);
    setPaused(false);
  }

  const models = useMemo(() => [...new Set(shown.map((r) => r.model))].sort(), [shown]);
  const keys = useMemo(() => [...new Map(shown.filter((r) => r.apiKey).map((r) => [r.apiKey!.id, keyLabel(r)])).entries()], [shown]);
  const visible = shown.filter((r) => matches(r, filters));
  const set = (field: keyof TailFilters) => (e: Event) => setFilters({ ...filters, [field]: (e.currentTarget as HTMLSelectElement).value });

  const actions = (
    <>
      <span class={`badge ${paused || !connected ? 'warn' : 'ok'}`} aria-live="polite">
        {paused ? `Paused · ${formatInt(held.length)} new` : connected ? 'Live' : 'Reconnecting…'}
      </span>
      {paused ? (
        <button type="button" class="primary" onClick={resume}>
          Resume
        </button>
      ) : (
        <button type="button" onClick={() => setPaused(true)}>
          Pause
        </button>
      )}
      <button type="button" onClick={() => setShown([])} disabled={!shown.length}>
        Clear
      </button>
    </>
  );

  return (
    <Page title="Live tail" actions={actions}>
      <div class="form-row tail-filters">
        <label>
          Model
          <select value={filters.model} onChange={set('model')}>
            <option value="">All models</option>
            {models.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        {admin ? (
          <label>
            Key
            <select value={filters.key} onChange={set('key')}>
              <option value="">All keys</option>
              {keys.map(([id, name]) => (
                <option key={id} value={id}>
                  {name}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <label>
          Status
          <select value={filters.status} onChange={set('status')}>
            <option value="">All statuses</option>
            {USAGE_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <p class="muted small tail-count">
          {formatInt(visible.length)} of {formatInt(shown.length)} shown (newest {KEEP} kept)
        </p>
      </div>
      <ErrorNote error={error} />
      {shown.length === 0 ? (
        <div class="card empty">
          <p>Waiting for calls…</p>
          <p class="muted">Each call through the gateway appears here the moment it is recorded: make one from the Playground or with the API.</p>
        </div>
      ) : visible.length === 0 ? (
        <div class="card empty muted">No record matches these filters yet.</div>
      ) : (
        <UsageRecordTable records={visible} onOpen={setOpen} label="Live usage records" />
      )}
      {open ? <UsageRecordDrawer record={open} onClose={() => setOpen(null)} /> : null}
    </Page>
  );
}
