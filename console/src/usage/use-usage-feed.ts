/* The usageRecorded subscription as a hook: calls back with each record as the gateway writes it. */
import { useClient } from '@urql/preact';
import type { CombinedError } from '@urql/core';
import { useEffect, useRef, useState } from 'preact/hooks';
import { graphql, readFragment } from '../graphql';
import { UsageRecordFields, type UsageRecord } from './record';

const UsageRecordedSubscription = graphql(
  `
    subscription ConsoleUsageRecorded {
      usageRecorded {
        ...UsageRecordFields
      }
    }
  `,
  [UsageRecordFields],
);

export function useUsageFeed(onRecord: (record: UsageRecord) => void): { error: CombinedError | null } {
  const client = useClient();
  const [error, setError] = useState<CombinedError | null>(null);
  // the latest callback, so a re-render does not resubscribe
  const callback = useRef(onRecord);
  callback.current = onRecord;
  useEffect(() => {
    const { unsubscribe } = client.subscription(UsageRecordedSubscription, {}).subscribe((result) => {
      if (result.error) setError(result.error);
      else if (result.data) {
        setError(null);
        callback.current(readFragment(UsageRecordFields, result.data.usageRecorded));
      }
    });
    return unsubscribe;
  }, [client]);
  return { error };
}
