/* A modal <dialog> kept in step with the page's state: opened and closed by `open`, Escape asks `onClose`. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import './admin.css';

export interface ModalProps {
  open: boolean;
  title: string;
  /** Escape was pressed; not called while `busy` */
  onClose(): void;
  busy?: boolean;
  wide?: boolean;
  children: ComponentChildren;
}

export function Modal({ open, title, onClose, busy, wide, children }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);

  return (
    <dialog
      ref={ref}
      aria-label={title}
      class={wide ? 'modal wide' : 'modal'}
      onCancel={(e) => {
        // the browser would close it behind our back; the page decides, and not while a change runs
        e.preventDefault();
        if (!busy) onClose();
      }}
    >
      {open ? (
        <>
          <h2>{title}</h2>
          {children}
        </>
      ) : null}
    </dialog>
  );
}
