/*
 * A mutation whose answer holds a secret (createApiKey, rotateApiKey). urql's useMutation keeps the last answer in
 * the component's state for as long as the page is open; this hook keeps only whether one is running, so once the
 * caller drops the secret nothing on the page still holds it.
 */
import type { AnyVariables, CombinedError, DocumentInput } from '@urql/core';
import { useClient } from '@urql/preact';
import { useState } from 'preact/hooks';

export function useSecretMutation<Data, Variables extends AnyVariables>(
  document: DocumentInput<Data, Variables>,
): [boolean, (variables: Variables) => Promise<{ data?: Data; error?: CombinedError }>] {
  const client = useClient();
  const [fetching, setFetching] = useState(false);
  async function run(variables: Variables) {
    setFetching(true);
    try {
      const { data, error } = await client.mutation(document, variables, { requestPolicy: 'network-only' }).toPromise();
      return { data, error };
    } finally {
      setFetching(false);
    }
  }
  return [fetching, run];
}
