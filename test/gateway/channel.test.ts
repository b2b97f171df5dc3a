/* The chatStream channel: lazy start, backpressure, queued values before the end or the error, cancellation. */
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/gateway/channel.js';

describe('Channel', () => {
  it('starts the producer on the first read, not before', async () => {
    let started = 0;
    const ch = new Channel<number>(() => {
      started++;
      void ch.push(1);
    });
    await Promise.resolve();
    expect(started).toBe(0);
    expect(await ch.next()).toEqual({ value: 1, done: false });
    expect(started).toBe(1);
  });

  it('push resolves only once the consumer took the value (at once if it was already waiting)', async () => {
    const ch = new Channel<string>(() => {});
    const waiting = ch.next();
    let firstTaken = false;
    void ch.push('a').then(() => (firstTaken = true));
    expect(await waiting).toEqual({ value: 'a', done: false });
    expect(firstTaken).toBe(true);

    let secondTaken = false;
    const second = ch.push('b').then(() => (secondTaken = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(secondTaken).toBe(false);
    expect(await ch.next()).toEqual({ value: 'b', done: false });
    await second;
    expect(secondTaken).toBe(true);
  });

  it('delivers what was queued before the end, then done; or before an error, then the error', async () => {
    const ok = new Channel<number>(() => {});
    void ok.push(1);
    void ok.push(2);
    ok.end();
    expect([await ok.next(), await ok.next(), await ok.next()]).toEqual([
      { value: 1, done: false },
      { value: 2, done: false },
      { value: undefined, done: true },
    ]);

    const failed = new Channel<number>(() => {});
    void failed.push(1);
    failed.end(new Error('upstream cut'));
    expect(await failed.next()).toEqual({ value: 1, done: false });
    await expect(failed.next()).rejects.toThrow('upstream cut');
    expect(await failed.next()).toEqual({ value: undefined, done: true });
  });

  it('an error ends a consumer that is already waiting', async () => {
    const ch = new Channel<number>(() => {});
    const waiting = ch.next();
    ch.end(new Error('boom'));
    await expect(waiting).rejects.toThrow('boom');
  });

  it('return() before the first read runs the cancel hook instead of the producer; pending pushes resolve; closed settles', async () => {
    let started = false;
    let cancelled = false;
    const ch = new Channel<number>(() => (started = true), () => (cancelled = true));
    const pending = ch.push(1);
    expect(await ch.return()).toEqual({ value: undefined, done: true });
    await pending;
    await ch.closed;
    expect({ started, cancelled }).toEqual({ started: false, cancelled: true });
    expect(await ch.next()).toEqual({ value: undefined, done: true });
    await ch.push(2); // after the end: resolves, goes nowhere
  });

  it('return() while the consumer waits ends that read and closes the channel for the producer', async () => {
    const ch = new Channel<number>(() => {});
    const waiting = ch.next();
    let closed = false;
    void ch.closed.then(() => (closed = true));
    await ch.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    await Promise.resolve();
    expect(closed).toBe(true);
  });
});
