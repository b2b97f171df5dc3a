/*
 * The overview's data for a window and grouping, read again shortly after a usage record arrives, so the
 * numbers follow new calls without a reload. Preset windows end "now", so each read moves them forward.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useSession } from '../session';
import { useUsageFeed } from '../usage/use-usage-feed';
import { loadOverview, type GroupBy, type OverviewData } from './load-overview';
import { resolveWindow, type RangeChoice, type TimeWindow } from './range';

/** Records arriving within this long of the first are read in one go; a steady stream refreshes at this pace */
const REFRESH_DELAY_MS = 600;

export interface OverviewState {
  data: OverviewData | null;
  window: TimeWindow | null;
  error: Error | null;
  loading: boolean;
}

export function useOverview(range: RangeChoice, custom: { from: string; to: string }, groupBy: GroupBy): OverviewState {
  const session = useSession();
  const [state, setState] = useState<OverviewState>({ data: null, window: null, error: null, loading: true });
  const generation = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  function load() {
    const mine = ++generation.current;
    const window = resolveWindow(range, custom);
    if (Number.isNaN(window.from.getTime()) || Number.isNaN(window.to.getTime()) || window.from >= window.to) {
      setState({ data: null, window: null, error: new Error('Choose a "from" earlier than "to".'), loading: false });
      return;
    }
    setState((s) => ({ ...s, loading: true }));
    loadOverview(session.client.urql, window, groupBy, session.can('ADMIN')).then(
      (data) => mine === generation.current && setState({ data, window, error: null, loading: false }),
      (error: Error) => mine === generation.current && setState((s) => ({ ...s, error, loading: false })),
    );
  }

  useEffect(() => {
    load();
    return () => {
      clearTimeout(timer.current);
      timer.current = undefined;
    };
  }, [range, custom.from, custom.to, groupBy]);

  useUsageFeed((record) => {
    const window = resolveWindow(range, custom);
    const at = Date.parse(record.createdAt);
    if (range === 'custom' && (at < window.from.getTime() || at >= window.to.getTime())) return;
    // a timer already set will read this record too; resetting it would starve the page under steady traffic
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      load();
    }, REFRESH_DELAY_MS);
  });

  return state;
}
