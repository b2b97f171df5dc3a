/*
 * The call list a page at a time, newest first: the first page for the filter, then each "Load more" appends the
 * next page after the last cursor. An answer for a filter no longer shown is dropped.
 */
import type { CombinedError } from '@urql/core';
import { useEffect, useRef, useState } from 'preact/hooks';
import { readFragment } from '../graphql';
import { useSession } from '../session';
import { CallRowFields, CallsPageQuery, type CallFilter, type CallRow } from './documents';

interface Pages {
  rows: CallRow[];
  endCursor: string | null;
  hasMore: boolean;
  loading: boolean;
  /** The first page for the current filter has come */
  loaded: boolean;
  error?: CombinedError;
}

export function useCallPages(filter: CallFilter, size: number) {
  const { client } = useSession();
  const [pages, setPages] = useState<Pages>({ rows: [], endCursor: null, hasMore: false, loading: true, loaded: false });
  const generation = useRef(0);
  const key = JSON.stringify(filter);

  async function fetchPage(after: string | null) {
    const gen = after == null ? ++generation.current : generation.current;
    setPages((p) => ({ ...p, loading: true, error: undefined }));
    const r = await client.urql.query(CallsPageQuery, { filter, first: size, after }, { requestPolicy: 'network-only' }).toPromise();
    if (gen !== generation.current) return;
    const connection = r.data?.invocations;
    if (r.error || !connection) {
      setPages((p) => ({ ...p, loading: false, loaded: true, error: r.error, ...(after == null ? { rows: [], hasMore: false } : {}) }));
      return;
    }
    const rows = connection.edges.map((e) => readFragment(CallRowFields, e.node));
    setPages((p) => ({
      rows: after == null ? rows : [...p.rows, ...rows],
      endCursor: connection.pageInfo.endCursor ?? null,
      hasMore: connection.pageInfo.hasNextPage,
      loading: false,
      loaded: true,
    }));
  }

  useEffect(() => {
    void fetchPage(null);
  }, [key, size]);

  return { ...pages, loadMore: () => void fetchPage(pages.endCursor), refresh: () => void fetchPage(null) };
}
