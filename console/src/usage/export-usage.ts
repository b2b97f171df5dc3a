/* Every record a filter picks (up to a cap), read page by page, for the CSV export. */
import type { Client } from '@urql/core';
import { readFragment, type VariablesOf } from '../graphql';
import { UsageRecordFields, type UsageRecord } from './record';
import { UsagePageQuery } from './usage-query';

/** The most rows one export holds: a browser builds the file in memory */
export const EXPORT_CAP = 50_000;
const PAGE = 500;

export async function exportUsage(
  client: Client,
  filter: VariablesOf<typeof UsagePageQuery>['filter'],
  onProgress: (rows: number) => void,
): Promise<{ records: UsageRecord[]; capped: boolean }> {
  const records: UsageRecord[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await fetchPage(client, { filter, first: Math.min(PAGE, EXPORT_CAP - records.length), after });
    for (const edge of page.edges) records.push(readFragment(UsageRecordFields, edge.node));
    onProgress(records.length);
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return { records, capped: false };
    if (records.length >= EXPORT_CAP) return { records, capped: true };
    after = page.pageInfo.endCursor;
  }
}

async function fetchPage(client: Client, variables: VariablesOf<typeof UsagePageQuery>) {
  const res = await client.query(UsagePageQuery, variables, { requestPolicy: 'network-only' }).toPromise();
  if (res.error) throw res.error;
  if (!res.data?.usage) throw new Error('The gateway answered no usage.');
  return res.data.usage;
}

/** Hands a file to the browser's download (a blob URL on a link, clicked) */
export function downloadFile(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
