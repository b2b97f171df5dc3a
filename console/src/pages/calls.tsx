/*
 * Calls: the call log, newest first, filtered on the gateway (key, model, status, time, text search over FULL
 * calls), a page at a time with "Load more". A row opens the call's details (/calls/<id>).
 */
import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { ErrorNote } from '../components/error-note';
import { Page } from '../components/page';
import { CallFilters } from '../calls/call-filters';
import { CallsTable } from '../calls/calls-table';
import type { CallFilter } from '../calls/documents';
import { callFilterFromQuery, callsUrl, callUrl } from '../calls/filter-url';
import { useCallPages } from '../calls/use-call-pages';
import { formatInt } from '../format';
import { useSession } from '../session';
import './calls.css';

const PAGE_SIZE = 50;

export function CallsPage() {
  const session = useSession();
  const location = useLocation();
  const [filter, setFilter] = useState<CallFilter>(() => callFilterFromQuery(location.query));
  const pages = useCallPages(filter, PAGE_SIZE);

  function changeFilter(next: CallFilter) {
    setFilter(next);
    // the address follows the filters (replacing, not adding history), so the view can be shared
    history.replaceState(history.state, '', callsUrl(next));
  }

  const actions = (
    <button type="button" onClick={pages.refresh} disabled={pages.loading}>
      Refresh
    </button>
  );

  return (
    <Page title="Calls" actions={actions}>
      <p class="muted page-intro">
        Every call logged at METADATA or FULL: the lowest level set on its key, the key's team and the model (none set: not logged). Search finds words in
        the messages and answers of FULL calls.
      </p>
      <CallFilters value={filter} onChange={changeFilter} admin={session.can('ADMIN')} readUsage={session.can('READ_USAGE')} />
      <ErrorNote error={pages.error} />
      {!pages.loaded ? <p class="muted">Loading…</p> : null}
      {pages.loaded && !pages.error && pages.rows.length === 0 ? (
        <div class="card empty muted">
          <p>No logged call matches{filter.search ? ` “${filter.search}”` : ''} and these filters.</p>
          <p>Calls are logged once a key, its team or the model sets a call log level (Keys, Teams, Models pages).</p>
        </div>
      ) : null}
      {pages.rows.length ? <CallsTable rows={pages.rows} onOpen={(id) => location.route(callUrl(id))} /> : null}
      <nav class="pager" aria-label="More calls">
        <span class="muted pager-count">
          {formatInt(pages.rows.length)} call{pages.rows.length === 1 ? '' : 's'} shown{pages.hasMore ? '' : pages.loaded && pages.rows.length ? ', the oldest reached' : ''}
        </span>
        <button type="button" disabled={!pages.hasMore || pages.loading} onClick={pages.loadMore}>
          {pages.loading && pages.loaded ? 'Loading…' : 'Load more'}
        </button>
      </nav>
    </Page>
  );
}
