/* The newest usage records already written, read once (null until they arrive). */
import { useQuery } from '@urql/preact';
import { useMemo } from 'preact/hooks';
import { readFragment } from '../graphql';
import { UsageRecordFields, type UsageRecord } from './record';
import { UsagePageQuery } from './usage-query';

export function useRecentUsage(count: number): UsageRecord[] | null {
  const [result] = useQuery({ query: UsagePageQuery, variables: { first: count }, requestPolicy: 'network-only' });
  const edges = result.data?.usage?.edges;
  return useMemo(() => (edges ? edges.map((e) => readFragment(UsageRecordFields, e.node)) : null), [edges]);
}
