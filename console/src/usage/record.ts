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

/** A record's key as people know it: its name (a dash when the record has no key the caller may read) */
export function keyLabel(record: UsageRecord): string {
  return record.apiKey ? record.apiKey.name : '–';
}
