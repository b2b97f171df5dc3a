/*
 * A single-consumer async iterator fed by one producer: what a chatStream needs from Repeater, without its per-push
 * promises and bookkeeping (Repeater's push was the largest single cost of streaming, plus the garbage; figures
 * in bench/README.md). The producer starts on the first read; `push` resolves once the value is taken, so a slow client holds
 * the upstream read instead of buffering it; `closed` settles when either side ends it.
 */
type Waiter<T> = { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void };

const TAKEN = Promise.resolve();

export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly queue: Array<{ value: T; taken: () => void }> = [];
  private waiter: Waiter<T> | undefined;
  private started = false;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private markClosed!: () => void;
  /** Settles when the producer ended it or the consumer returned. */
  readonly closed = new Promise<void>((resolve) => (this.markClosed = resolve));

  /**
   * @param start runs on the first read
   * @param cancelledBeforeStart runs instead when the consumer ends it before ever reading
   */
  constructor(
    private readonly start: () => void,
    private readonly cancelledBeforeStart: () => void = () => {},
  ) {}

  /** Whether either side has ended it: after the consumer's return(), pushes are dropped. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Resolves when the consumer took the value (at once if it was waiting), or when the channel closed. */
  push(value: T): Promise<void> {
    if (this.ended) return TAKEN;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value, done: false });
      return TAKEN;
    }
    return new Promise<void>((taken) => this.queue.push({ value, taken }));
  }

  /** Ends the stream: the consumer gets what is queued, then done (or `error`). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.failure = { error };
    this.markClosed();
    const w = this.waiter;
    if (w && !this.queue.length) {
      this.waiter = undefined;
      if (this.failure) {
        const { error: e } = this.failure;
        this.failure = undefined;
        w.reject(e);
      } else w.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (!this.started) {
      this.started = true;
      this.start();
    }
    const item = this.queue.shift();
    if (item) {
      item.taken();
      return Promise.resolve({ value: item.value, done: false });
    }
    if (this.ended) {
      if (this.failure) {
        const { error } = this.failure;
        this.failure = undefined;
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The consumer is done: whatever is queued is dropped and every pending push resolves. */
  return(): Promise<IteratorResult<T>> {
    if (!this.started) {
      this.started = true;
      this.cancelledBeforeStart();
    }
    this.ended = true;
    this.failure = undefined;
    for (const item of this.queue.splice(0)) item.taken();
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve({ value: undefined, done: true });
    this.markClosed();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(): Promise<IteratorResult<T>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
