import { describe, expect, it, vi } from 'vitest';
import { Cancellation, NEVER, anyOf, toAbortSignal } from '../../src/util/cancellation.js';

describe('Cancellation (the hot path\'s AbortController)', () => {
  it('runs each listener once, in order, with the reason set first; later aborts change nothing', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    c.addEventListener('abort', () => seen.push(`a:${String(c.reason)}`));
    c.addEventListener('abort', () => seen.push(`b:${String(c.aborted)}`), { once: true });
    c.abort('first');
    c.abort('second');
    expect(seen).toEqual(['a:first', 'b:true']);
    expect(c.reason).toBe('first');
  });

  it('a removed listener is not called; a listener added after the abort is not called either', () => {
    const c = new Cancellation();
    let calls = 0;
    const fn = () => calls++;
    c.addEventListener('abort', fn);
    c.removeEventListener('abort', fn);
    c.abort();
    c.addEventListener('abort', fn);
    expect(calls).toBe(0);
  });

  it('without a reason aborts with an AbortError, as AbortController does', () => {
    const c = new Cancellation();
    c.abort();
    expect((c.reason as Error).name).toBe(new AbortController().signal.reason?.name ?? 'AbortError');
    expect((c.reason as Error).name).toBe('AbortError');
  });

  it('a throwing listener does not stop the others; its error is rethrown on its own, as EventTarget does', () => {
    const rethrown: Array<() => void> = [];
    vi.stubGlobal('queueMicrotask', (fn: () => void) => rethrown.push(fn));
    try {
      const c = new Cancellation();
      let reached = false;
      c.addEventListener('abort', () => {
        throw new Error('listener bug');
      });
      c.addEventListener('abort', () => (reached = true));
      c.abort();
      expect(reached).toBe(true);
      expect(rethrown).toHaveLength(1);
      expect(() => rethrown[0]()).toThrow('listener bug');
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('anyOf follows whichever aborts first, with its reason; toAbortSignal gives fetch a real AbortSignal', () => {
    const a = new Cancellation();
    const b = new AbortController();
    const both = anyOf(a, b.signal);
    const real = toAbortSignal(both);
    expect(real).toBeInstanceOf(AbortSignal);
    b.abort('from b');
    a.abort('from a');
    expect(both.aborted).toBe(true);
    expect(both.reason).toBe('from b');
    expect(real.aborted).toBe(true);
    expect(real.reason).toBe('from b');
    expect(NEVER.aborted).toBe(false);
  });
});
