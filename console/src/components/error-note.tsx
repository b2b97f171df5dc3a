/* An error as the gateway gave it: its message and code, never a stack trace. */
import type { CombinedError } from '@urql/core';

export function errorText(error: CombinedError | Error | string): string {
  if (typeof error === 'string') return error;
  if ('graphQLErrors' in error && error.graphQLErrors.length) {
    return error.graphQLErrors.map((e) => (e.extensions?.code ? `${e.message} (${String(e.extensions.code)})` : e.message)).join('; ');
  }
  if ('networkError' in error && error.networkError) return `Network: ${error.networkError.message}`;
  return error.message;
}

export function ErrorNote({ error }: { error: CombinedError | Error | string | null | undefined }) {
  if (!error) return null;
  return (
    <p class="error-note" role="alert">
      {errorText(error)}
    </p>
  );
}
