/*
 * A key's secret, shown the one time the gateway gives it (create or rotate). It lives only in the page's memory:
 * dismissing the notice or leaving the page drops it, and nothing can fetch it again.
 */
import { useState } from 'preact/hooks';

export interface SecretNoticeProps {
  keyName: string;
  secret: string;
  /** 'created' or 'rotated': what just happened, for the heading */
  event: 'created' | 'rotated';
  onDismiss(): void;
}

export function SecretNotice({ keyName, secret, event, onDismiss }: SecretNoticeProps) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);

  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  }

  return (
    <section class="notice secret-notice" aria-label="New secret">
      <div>
        <strong>
          Key “{keyName}” {event}.
        </strong>{' '}
        Copy its secret now: it is shown this once and cannot be read again.
      </div>
      <div class="secret">
        <code data-testid="secret">{secret}</code>
        <button type="button" class="primary" onClick={copy}>
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </button>
        <button type="button" onClick={onDismiss}>
          Done, hide it
        </button>
      </div>
      {copied === 'failed' ? <p class="small">The browser refused the clipboard: select the secret and copy it by hand.</p> : null}
    </section>
  );
}
