/* The end of every form in a dialog: what went wrong (the gateway's message and code), then Cancel and the submit button. */
export function FormFooter({ error, busy, submitLabel, onCancel }: { error: string | null | undefined; busy: boolean; submitLabel: string; onCancel(): void }) {
  return (
    <>
      {error ? (
        <p class="error-note" role="alert">
          {error}
        </p>
      ) : null}
      <div class="form-actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : submitLabel}
        </button>
      </div>
    </>
  );
}
