/*
 * A list read once and kept current by a subscription: each item the feed brings replaces the one with its id (or
 * joins the list), so a change made anywhere (another tab, another instance) shows without a reload.
 */
import { useClient, useQuery } from '@urql/preact';
import type { CombinedError, TypedDocumentNode } from '@urql/core';
import { useEffect, useMemo, useState } from 'preact/hooks';

interface Identified {
  id: string;
  updatedAt?: string;
}

export function useLiveList<Q, S, T extends Identified>(
  query: TypedDocumentNode<Q, Record<string, never>>,
  subscription: TypedDocumentNode<S, Record<string, never>>,
  listOf: (data: Q) => readonly T[],
  itemOf: (data: S) => T,
  order: (a: T, b: T) => number,
): { items: T[]; loaded: boolean; error: CombinedError | undefined } {
  const client = useClient();
  const [res] = useQuery({ query });
  const [arrived, setArrived] = useState<Map<string, T>>(new Map());
  const [feedError, setFeedError] = useState<CombinedError | undefined>();

  useEffect(() => {
    const { unsubscribe } = client.subscription(subscription, {}).subscribe((result) => {
      if (result.error) return setFeedError(result.error);
      if (!result.data) return;
      setFeedError(undefined);
      const item = itemOf(result.data);
      setArrived((m) => new Map(m).set(item.id, item));
    });
    return unsubscribe;
    // the document and readers are module constants: subscribe once per client
  }, [client]);

  const items = useMemo(() => {
    const byId = new Map<string, T>();
    for (const item of res.data ? listOf(res.data) : []) byId.set(item.id, item);
    // the later of the two wins: a refetch after a mutation may be newer than what the feed brought
    for (const [id, item] of arrived) {
      const known = byId.get(id);
      if (!known || (item.updatedAt ?? '') >= (known.updatedAt ?? '')) byId.set(id, item);
    }
    return [...byId.values()].sort(order);
  }, [res.data, arrived]);

  return { items, loaded: res.data != null, error: res.error ?? feedError };
}
