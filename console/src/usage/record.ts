/* The fields of a usage record every usage page shows (tables, the details drawer, the CSV). */
import { graphql, type ResultOf } from '../graphql';

export const UsageRecordFields = graphql(`
  fragment UsageRecordFields on UsageRecord {
    id
    invocationId
    createdAt
    model
    provider
    upstreamModel
    status
    errorCode
    streamed
    promptTokens
    completionTokens
    costUsd
    latencyMs
    ttftMs
    attempts
    cacheHit
    cacheSimilarity
    costSavedUsd
    metadata
    apiKey {
      id
      name
      prefix
    }
  }
`);

export type UsageRecord = ResultOf<typeof UsageRecordFields>;
export type UsageStatus = UsageRecord['status'];

export const USAGE_STATUSES: UsageStatus[] = ['OK', 'ERROR', 'CANCELLED', 'RATE_LIMITED', 'QUOTA_EXCEEDED'];

/** Whether the response cache answered, and how closely a semantic hit matched: "Exact", "Semantic 0.97" or a dash */
export function cacheLabel(record: UsageRecord): string {
  if (record.cacheHit === 'EXACT') return 'Exact';
  if (record.cacheHit === 'SEMANTIC') return record.cacheSimilarity == null ? 'Semantic' : `Semantic ${record.cacheSimilarity.toFixed(2)}`;
  return '–';
}

/** A record's key as people know it: its name (a dash when the record has no key the caller may read) */
export function keyLabel(record: UsageRecord): string {
  return record.apiKey ? record.apiKey.name : '–';
}
