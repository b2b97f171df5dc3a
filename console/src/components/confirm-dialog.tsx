/*
 * A question before a destructive or far-reaching change, in a modal <dialog> (not window.confirm): what the change
 * does, the gateway's error when it failed, and buttons disabled while it runs.
 */
import type { ComponentChildren } from 'preact';
import { Modal } from './modal';

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  /** A red confirm button, for what cannot be undone */
  danger?: boolean;
  busy?: boolean;
  error?: string | null;
  onConfirm(): void;
  onCancel(): void;
}

export function ConfirmDialog({ open, title, children, confirmLabel, danger, busy, error, onConfirm, onCancel }: ConfirmDialogProps) {
  return (
    <Modal open={open} title={title} onClose={onCancel} busy={busy}>
      <div class="dialog-text">{children}</div>
      {error ? (
        <p class="error-note" role="alert">
          {error}
        </p>
      ) : null}
      <div class="form-actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="button" class={danger ? 'danger-solid' : 'primary'} disabled={busy} onClick={onConfirm}>
          {busy ? 'Working…' : confirmLabel}
        </button>
      </div>
    </Modal>
  );
}
