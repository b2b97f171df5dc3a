/* The usage records not yet written, bounded: past the bound the oldest waiting ones are dropped, and that is logged. */
import type { Logger } from 'pino';
import type { UsageEvent } from './usage-writer.js';

export class UsageBacklog {
  /** Waiting to be written, oldest first. */
  private waiting: UsageEvent[] = [];
  /** The batch an insert is running for; put back in front of the waiting ones if the insert fails. */
  private inflight: UsageEvent[] = [];
  private droppedTotal = 0;
  private droppedSinceLog = 0;
  private lastDropLog = 0;

  constructor(
    /** Records kept at most, in flight included. */
    private readonly max: number,
    private readonly log: Logger,
    private readonly onDropped?: (count: number) => void,
  ) {}

  /** Records not yet written (waiting or in flight). */
  get size(): number {
    return this.waiting.length + this.inflight.length;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  get dropped(): number {
    return this.droppedTotal;
  }

  add(e: UsageEvent): void {
    this.waiting.push(e);
    this.enforceBound();
  }

  /** The oldest `n` waiting records become the batch in flight. */
  take(n: number): UsageEvent[] {
    return (this.inflight = this.waiting.splice(0, n));
  }

  /** The batch in flight is done with (written, or its refused records dropped); the bound is logged afresh. */
  done(): void {
    this.inflight = [];
    this.lastDropLog = 0;
  }

  /** Records of the batch in flight that were not written go back in front of the waiting ones. */
  putBack(events: UsageEvent[]): void {
    this.waiting = events.concat(this.waiting);
    this.inflight = [];
  }

  /** Records the database refused: they are dropped and counted. */
  refused(count: number): void {
    this.droppedTotal += count;
    this.onDropped?.(count);
  }

  /** Keeps at most `max` records (in flight included), dropping the oldest waiting ones. */
  enforceBound(): void {
    const n = Math.min(this.size - this.max, this.waiting.length);
    if (n <= 0) return;
    this.waiting.splice(0, n);
    this.droppedTotal += n;
    this.droppedSinceLog += n;
    this.onDropped?.(n);
    // one line when the bound is first reached, then at most one every 5 s while it stays reached
    const now = Date.now();
    if (this.lastDropLog === 0 || now - this.lastDropLog >= 5000) {
      this.log.error({ dropped: this.droppedSinceLog, droppedTotal: this.droppedTotal, bufferMax: this.max }, 'usage buffer full: oldest records dropped');
      this.lastDropLog = now;
      this.droppedSinceLog = 0;
    }
  }
}
