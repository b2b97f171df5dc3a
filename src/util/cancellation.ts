/*
 * Cancellation without EventTarget. Building an AbortController and adding and removing a listener on it cost
 * microseconds in Node, and a chat made three of each (client disconnect, per-attempt timeout, upstream abort)
 * on the hot path; this does the same job for a small fraction of that (figures in bench/README.md).
 *
 * `CancelSignal` is the part of AbortSignal the gateway uses, so a real AbortSignal (Yoga's request signal,
 * a test's AbortController) is accepted wherever a Cancellation is, and undici takes either.
 */

export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** The reason AbortController.abort() gives when none is passed. */
function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}

/** A controller and its signal in one object: `abort()` runs each listener once, in the order added. */
export class Cancellation implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  get signal(): CancelSignal {
    return this;
  }

  /** Every listener runs at most once (there is only one abort), so `once` changes nothing. */
  addEventListener(type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (type !== 'abort' || this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(type: 'abort', listener: () => void): void {
    const l = this.listeners;
    if (type !== 'abort' || !l) return;
    const i = l.indexOf(listener);
    if (i >= 0) l.splice(i, 1);
  }

  abort(reason: unknown = abortError()): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const l = this.listeners;
    this.listeners = undefined;
    if (!l) return;
    for (const fn of l) {
      try {
        fn.call(this);
      } catch (err) {
        // as EventTarget does: one failing listener neither stops the others nor the caller
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

/** A signal that never aborts. Shared by every caller without one, so it keeps no listeners at all. */
export const NEVER: CancelSignal = Object.freeze({
  aborted: false,
  reason: undefined,
  addEventListener() {},
  removeEventListener() {},
});

/** A real AbortSignal that follows `signal`, for APIs that insist on one (fetch). */
export function toAbortSignal(signal: CancelSignal): AbortSignal {
  if (signal instanceof AbortSignal) return signal;
  const ac = new AbortController();
  if (signal.aborted) ac.abort(signal.reason);
  else signal.addEventListener('abort', () => ac.abort(signal.reason), { once: true });
  return ac.signal;
}

/** Aborts when the first of `signals` does, with its reason (AbortSignal.any for CancelSignals). */
export function anyOf(...signals: CancelSignal[]): CancelSignal {
  const out = new Cancellation();
  for (const s of signals) {
    if (s.aborted) {
      out.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => out.abort(s.reason), { once: true });
  }
  return out;
}
