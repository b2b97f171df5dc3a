/*
 * The usage explorer: the `usage` connection a page at a time (cursors both ways), filtered on the gateway, and
 * the whole filtered set as a CSV file built in the browser.
 */
import { useQuery } from '@urql/preact';
import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { ErrorNote } from '../components/error-note';
import { Page } from '../components/page';
import { UsageRecordDrawer } from '../components/usage-record-drawer';
import { UsageRecordTable } from '../components/usage-record-table';
import { formatInt } from '../format';
import { readFragment } from '../graphql';
import { useSession } from '../session';
import { usageCsv } from '../usage/csv';
import { downloadFile, EXPORT_CAP, exportUsage } from '../usage/export-usage';
import { usageFilterFromQuery, usageUrl } from '../usage/filter-url';
import { UsageRecordFields, type UsageRecord } from '../usage/record';
import { UsageFilters, type UsageFilterInput } from '../usage/usage-filters';
import { UsagePageQuery } from '../usage/usage-query';
import './usage.css';

const PAGE_SIZES = [10, 25, 50, 100, 250];

/** Where the page stands: the first page, the page after a cursor, or the page before one */
type Position = { after?: string; before?: string };

function fileName(now = new Date()): string {
  return `usage-${now.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-')}.csv`;
}

function useCsvExport(filter: UsageFilterInput) {
  const { client } = useSession();
  const [state, setState] = useState<{ busy: boolean; rows: number; note?: string; error?: Error }>({ busy: false, rows: 0 });
  async function run() {
    setState({ busy: true, rows: 0 });
    try {
      const { records, capped } = await exportUsage(client.urql, filter, (rows) => setState({ busy: true, rows }));
      downloadFile(fileName(), usageCsv(records), 'text/csv;charset=utf-8');
      const note = `Exported ${formatInt(records.length)} records${capped ? ` (the first ${formatInt(EXPORT_CAP)}; narrow the filters for the rest)` : ''}.`;
      setState({ busy: false, rows: records.length, note });
    } catch (error) {
      setState({ busy: false, rows: 0, error: error as Error });
    }
  }
  return { ...state, run };
}

export function UsagePage() {
  const session = useSession();
  const location = useLocation();
  const [filter, setFilter] = useState<UsageFilterInput>(() => usageFilterFromQuery(location.query));
  const [size, setSize] = useState(50);
  const [position, setPosition] = useState<Position>({});
  const [pageNo, setPageNo] = useState(1);
  const [open, setOpen] = useState<UsageRecord | null>(null);
  const csv = useCsvExport(filter);

  const variables = position.before ? { filter, last: size, before: position.before } : { filter, first: size, after: position.after };
  const [result, reexecute] = useQuery({ query: UsagePageQuery, variables, requestPolicy: 'cache-and-network' });
  const connection = result.data?.usage;
  const records = (connection?.edges ?? []).map((e) => readFragment(UsageRecordFields, e.node));
  const info = connection?.pageInfo;

  function changeFilter(next: UsageFilterInput) {
    setFilter(next);
    // the address follows the filters (replacing, not adding history), so the view can be shared
    history.replaceState(history.state, '', usageUrl(next));
  }

  function restart(next: () => void) {
    next();
    setPosition({});
    setPageNo(1);
  }

  const actions = (
    <>
      {csv.busy ? <span class="muted small">Exporting… {formatInt(csv.rows)} rows</span> : null}
      <button type="button" onClick={() => reexecute({ requestPolicy: 'network-only' })} disabled={result.fetching}>
        Refresh
      </button>
      <button type="button" class="primary" onClick={() => void csv.run()} disabled={csv.busy}>
        Export CSV
      </button>
    </>
  );

  return (
    <Page title="Usage" actions={actions}>
      <UsageFilters value={filter} admin={session.can('ADMIN')} onChange={(f) => restart(() => changeFilter(f))} />
      {csv.note ? <p class="notice">{csv.note}</p> : null}
      <ErrorNote error={csv.error ?? result.error} />
      {result.fetching && !connection ? <p class="muted">Loading…</p> : null}
      {connection && records.length === 0 ? (
        <div class="card empty muted">No usage matches these filters. Widen them, or make a call: every invocation is recorded here.</div>
      ) : null}
      {records.length ? <UsageRecordTable records={records} onOpen={setOpen} label="Usage records" /> : null}
      <nav class="pager" aria-label="Pages">
        <label class="pager-size">
          Per page
          <select value={size} onChange={(e) => restart(() => setSize(Number(e.currentTarget.value)))}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <span class="muted">Page {formatInt(pageNo)}</span>
        <button
          type="button"
          disabled={!info?.hasPreviousPage || !info.startCursor || result.fetching}
          onClick={() => {
            // back on the first page, read it from the top, so records written meanwhile show there
            setPosition(pageNo <= 2 ? {} : { before: info!.startCursor! });
            setPageNo((n) => n - 1);
          }}
        >
          ← Newer
        </button>
        <button
          type="button"
          disabled={!info?.hasNextPage || !info.endCursor || result.fetching}
          onClick={() => {
            setPosition({ after: info!.endCursor! });
            setPageNo((n) => n + 1);
          }}
        >
          Older →
        </button>
      </nav>
      {open ? <UsageRecordDrawer record={open} onClose={() => setOpen(null)} /> : null}
    </Page>
  );
}
