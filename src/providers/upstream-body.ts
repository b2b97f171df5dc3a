/*
 * A streamed upstream response straight on undici's dispatcher: its head, then its body chunks as an async iterator
 * that reads the socket only as fast as the chunks are taken. undici's request() gives every call an AsyncResource,
 * a Readable body that reads ahead of its consumer into its own buffer, and a stream async iterator on top; a stream
 * that waits minutes for its tokens keeps all of that, thousands of times over. Here one object is the dispatch
 * handler and the iterator, and a chunk nobody asked for yet pauses the socket instead of being buffered.
 */
import type { Dispatcher } from 'undici';

export interface ResponseHead {
  statusCode: number;
  /** The raw header list as undici hands it over: name, value, name, value… */
  rawHeaders: Buffer[];
}

type Waiter = { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void };
type HeadWaiter = { resolve: (h: ResponseHead) => void; reject: (e: unknown) => void };

const DONE: IteratorResult<Buffer> = Object.freeze({ done: true, value: undefined });

export class UpstreamBody implements AsyncIterableIterator<Buffer> {
  private abortUpstream: ((reason?: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private paused = false;
  /** Chunks that arrived before they were asked for: at most the one that paused the socket, plus what resume() let through. */
  private readonly queue: Buffer[] = [];
  private head: HeadWaiter | undefined;
  private waiter: Waiter | undefined;
  private ended = false;
  private failure: { error: unknown } | undefined;

  /**
   * Sends the request; resolves with the response head (its status and raw headers; 1xx answers are skipped) once it
   * arrives, or rejects with what undici failed with (a connect error, a headers timeout, an abort).
   */
  start(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): Promise<ResponseHead> {
    return new Promise<ResponseHead>((resolve, reject) => {
      this.head = { resolve, reject };
      dispatcher.dispatch(options, this as unknown as Dispatcher.DispatchHandler);
    });
  }

  /** Stops the response with `reason` (the pending and later reads fail with it); its connection is closed. */
  abort(reason: unknown): void {
    if (this.ended) return;
    const abort = this.abortUpstream;
    this.finish({ error: reason });
    abort?.(reason instanceof Error ? reason : new Error('aborted'));
  }

  /** Whether the response is over: read to its end, failed or aborted. */
  get isEnded(): boolean {
    return this.ended;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.queue.shift();
    if (chunk) return Promise.resolve({ done: false, value: chunk });
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.resolve(DONE);
    const p = new Promise<IteratorResult<Buffer>>((resolve, reject) => (this.waiter = { resolve, reject }));
    if (this.paused) {
      this.paused = false;
      this.resumeUpstream?.();
    }
    return p;
  }

  /** The consumer stopped early: the rest of the response is not read, its connection is closed. */
  return(): Promise<IteratorResult<Buffer>> {
    this.queue.length = 0;
    if (!this.ended) {
      const abort = this.abortUpstream;
      this.finish(undefined);
      abort?.(new Error('the response was not read to its end'));
    }
    this.failure = undefined;
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  // ---- undici's dispatch handler

  onConnect(abort: (reason?: Error) => void): void {
    // aborted before undici got this far
    if (this.ended) abort(this.failure?.error instanceof Error ? this.failure.error : new Error('aborted'));
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx informational answers come first and are not the response
    if (statusCode < 200) return true;
    this.resumeUpstream = resume;
    const head = this.head;
    this.head = undefined;
    head?.resolve({ statusCode, rawHeaders });
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.ended) return true;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ done: false, value: chunk });
      return true;
    }
    this.queue.push(chunk);
    // false pauses the socket until next() asks for more (undici's back-pressure signal, as a Readable's push() gives)
    this.paused = true;
    return false;
  }

  onComplete(): void {
    this.finish(undefined);
  }

  onError(err: Error): void {
    // after return() or abort(), undici reports the abort it was asked for: nobody is listening
    if (this.ended) return;
    this.finish({ error: err });
  }

  private finish(failure: { error: unknown } | undefined): void {
    this.ended = true;
    this.abortUpstream = undefined;
    this.resumeUpstream = undefined;
    const head = this.head;
    this.head = undefined;
    if (head) {
      head.reject(failure ? failure.error : new Error('the upstream closed the response before its headers'));
      return;
    }
    const w = this.waiter;
    this.waiter = undefined;
    // chunks already queued are still read; the failure comes after them
    if (failure) {
      if (w) w.reject(failure.error);
      else this.failure = failure;
    } else w?.resolve(DONE);
  }
}
