/* Sign in by pasting a key: it is checked with `viewer` before it is kept (in sessionStorage only). */
import { useState } from 'preact/hooks';
import { createConsoleClient } from './client';
import { errorText } from './components/error-note';
import type { Viewer } from './session';
import { ViewerQuery } from './viewer';

export async function checkKey(key: string): Promise<{ viewer: Viewer } | { error: string }> {
  const client = createConsoleClient(key);
  try {
    const res = await client.urql.query(ViewerQuery, {}, { requestPolicy: 'network-only' }).toPromise();
    if (res.error) return { error: res.error.response?.status === 401 ? 'This key is not valid (unknown, revoked or expired).' : errorText(res.error) };
    if (!res.data) return { error: 'The gateway did not answer.' };
    return { viewer: res.data.viewer };
  } finally {
    client.dispose();
  }
}

export function SignIn({ onSignedIn, notice }: { onSignedIn(key: string, viewer: Viewer): void; notice?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(notice ?? null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const secret = key.trim();
    if (!secret) return setError('Paste a key first.');
    setBusy(true);
    const result = await checkKey(secret);
    setBusy(false);
    if ('error' in result) return setError(result.error);
    onSignedIn(secret, result.viewer);
  }

  return (
    <main class="sign-in">
      <form class="card sign-in-card" onSubmit={submit}>
        <h1>AI Gateway console</h1>
        <p class="muted">Paste an API key. It stays in this tab (sessionStorage) and is sent only to this gateway's /graphql.</p>
        <label>
          API key
          <input
            type="password"
            name="key"
            autoComplete="off"
            spellcheck={false}
            placeholder="gw_…"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            autoFocus
          />
        </label>
        {error ? (
          <p class="error-note" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
