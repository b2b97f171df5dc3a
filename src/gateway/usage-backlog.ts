/*
 * The usage records not yet written, bounded: past the bound the oldest waiting ones are dropped, and that is logged.
 * Their call logs have a byte budget of their own: past it the oldest records lose their call log, never themselves.
 * With the crash spool on, the spool is told of each record that leaves (written, refused, or let go past a bound):
 * past a bound (records or call log bytes) the oldest are only let go from memory, and their segment is replayed later.
 */
import type { Logger } from 'pino';
import { callLogBytes } from '../call-log/size.js';
import type { UsageEvent } from './usage-writer.js';

/** What the spool is told: records it handed over are done with (written or refused), or were let go unwritten. */
export interface BacklogSpool {
  released(events: readonly UsageEvent[]): void;
  evicted(events: readonly UsageEvent[]): void;
  /** Is the record's line on disk (a replay brings it back)? */
  onDisk(e: UsageEvent): boolean;
}

export class UsageBacklog {
  /** Waiting to be written, oldest first. */
  private waiting: UsageEvent[] = [];
  /** The batch an insert is running for; put back in front of the waiting ones if the insert fails. */
  private inflight: UsageEvent[] = [];
  private droppedTotal = 0;
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  /** Spooled: the last log of records dropped because their lines never reached the disk. */
  private lastLostLog = 0;
  /** The records held that carry a call log, oldest first (a Set keeps insertion order), and those logs' bytes. */
  private readonly withLogs = new Set<UsageEvent>();
  private logBytes = 0;
  private strippedTotal = 0;
  private strippedSinceLog = 0;
  private lastStripLog = 0;
  /** Records let go from memory because they are spooled (counted apart from the dropped ones: none is lost). */
  private evictedTotal = 0;

  constructor(
    /** Records kept at most, in flight included. */
    private readonly max: number,
    private readonly log: Logger,
    private readonly onDropped?: (count: number) => void,
    /** Call log bytes kept at most (estimated: see callLogBytes). */
    private readonly maxLogBytes = Infinity,
    private readonly spool?: BacklogSpool,
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

  /** Spooled records let go from memory at a bound; written later from their segments. */
  get evicted(): number {
    return this.evictedTotal;
  }

  /** Call logs taken off records to keep the backlog within its call log budget. */
  get strippedCallLogs(): number {
    return this.strippedTotal;
  }

  /** The call log bytes held now. */
  get callLogBytes(): number {
    return this.logBytes;
  }

  add(e: UsageEvent): void {
    this.waiting.push(e);
    if (e.callLog) {
      this.withLogs.add(e);
      this.logBytes += callLogBytes(e.callLog);
      if (this.logBytes > this.maxLogBytes) {
        if (this.spool) this.evictForLogs();
        else this.stripOldestLogs();
      }
    }
    this.enforceBound();
  }

  /** The oldest `n` waiting records become the batch in flight. */
  take(n: number): UsageEvent[] {
    return (this.inflight = this.waiting.splice(0, n));
  }

  /** The batch in flight is done with (written, or its refused records dropped); the bound is logged afresh. */
  done(): void {
    this.forget(this.inflight);
    this.spool?.released(this.inflight);
    this.inflight = [];
    this.lastDropLog = 0;
  }

  /** Records of the batch in flight that were not written go back in front of the waiting ones. */
  putBack(events: UsageEvent[]): void {
    this.waiting = events.concat(this.waiting);
    this.inflight = [];
  }

  /** A record the database refused: dropped and counted; its hook is told. */
  refused(e: UsageEvent): void {
    this.forget([e]);
    this.spool?.released([e]);
    this.droppedTotal += 1;
    this.onDropped?.(1);
    tellDropped([e], 'refused', this.log);
  }

  /** Shutdown: what is still held is lost with the process; logged, and each record's hook told (the records stay). */
  lost(): void {
    if (this.size === 0) return;
    this.log.error({ lost: this.size }, 'usage records could not be written before shutdown');
    tellDropped(this.inflight.concat(this.waiting), 'dropped', this.log);
  }

  /** A record that came after the stop and cannot be kept: counted dropped, logged, its hook told. */
  lostAfterStop(e: UsageEvent): void {
    this.droppedTotal += 1;
    this.onDropped?.(1);
    this.log.error({ usageId: e.id, model: e.model }, 'usage record came after the stop and could not be kept: lost');
    tellDropped([e], 'dropped', this.log);
  }

  /** Keeps at most `max` records (in flight included), dropping the oldest waiting ones (spooled: letting them go). */
  enforceBound(): void {
    const n = Math.min(this.size - this.max, this.waiting.length);
    if (n <= 0) return;
    if (this.spool) return this.evict(n);
    const gone = this.waiting.splice(0, n);
    this.forget(gone);
    tellDropped(gone, 'dropped', this.log);
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

  /**
   * Spooled: the `n` oldest waiting records leave memory unwritten; their segments bring them back later. Those whose
   * line never reached the disk (the spool's write failed) are dropped instead, and counted so.
   */
  private evict(n: number): void {
    const spool = this.spool!;
    const gone = this.waiting.splice(0, n);
    this.forget(gone);
    const spooled = gone.filter((e) => spool.onDisk(e));
    const lost = spooled.length === gone.length ? [] : gone.filter((e) => !spool.onDisk(e));
    if (spooled.length) {
      tellDropped(spooled, 'spooled', this.log);
      spool.evicted(spooled);
      this.evictedTotal += spooled.length;
    }
    if (lost.length) {
      tellDropped(lost, 'dropped', this.log);
      // done with as far as the spool is concerned: their segment holds nothing a replay could bring back
      spool.released(lost);
      this.droppedTotal += lost.length;
      this.droppedSinceLog += lost.length;
      this.onDropped?.(lost.length);
    }
    const now = Date.now();
    if (spooled.length && (this.lastDropLog === 0 || now - this.lastDropLog >= 5000)) {
      this.log.warn(
        { evictedTotal: this.evictedTotal, bufferMax: this.max, callLogBytes: this.logBytes },
        'usage buffer full: the oldest records wait in the spool only, and are written from it once the database takes writes',
      );
      this.lastDropLog = now;
    }
    if (lost.length && (this.lastLostLog === 0 || now - this.lastLostLog >= 5000)) {
      this.log.error(
        { dropped: this.droppedSinceLog, droppedTotal: this.droppedTotal, bufferMax: this.max },
        'usage buffer full: oldest records dropped (the spool could not write them to disk)',
      );
      this.lastLostLog = now;
      this.droppedSinceLog = 0;
    }
  }

  /** Spooled: the oldest waiting records leave memory until their call logs fit the budget again. */
  private evictForLogs(): void {
    let n = 0;
    let bytes = this.logBytes;
    while (n < this.waiting.length && bytes > this.maxLogBytes) {
      const log = this.waiting[n++].callLog;
      if (log) bytes -= callLogBytes(log);
    }
    if (n > 0) this.evict(n);
  }

  /** Records leaving the backlog: their call logs no longer count. */
  private forget(events: UsageEvent[]): void {
    if (this.withLogs.size === 0) return;
    for (const e of events) if (this.withLogs.delete(e) && e.callLog) this.logBytes -= callLogBytes(e.callLog);
  }

  /** The oldest records held lose their call logs until the logs fit the budget again; the records stay. */
  private stripOldestLogs(): void {
    for (const e of this.withLogs) {
      if (this.logBytes <= this.maxLogBytes) break;
      this.withLogs.delete(e);
      if (!e.callLog) continue;
      this.logBytes -= callLogBytes(e.callLog);
      e.callLog = undefined;
      this.strippedTotal++;
      this.strippedSinceLog++;
    }
    const now = Date.now();
    if (this.lastStripLog === 0 || now - this.lastStripLog >= 5000) {
      this.log.error(
        { stripped: this.strippedSinceLog, strippedTotal: this.strippedTotal, callLogBufferBytes: this.maxLogBytes },
        'usage buffer: call log budget reached; the oldest waiting records lose their call logs (the records are kept)',
      );
      this.lastStripLog = now;
      this.strippedSinceLog = 0;
    }
  }
}

/** Each dropped record's own hook (its trace's usage write span), told why; a failing hook is logged. */
function tellDropped(events: UsageEvent[], reason: 'refused' | 'dropped' | 'spooled', log: Logger): void {
  for (const e of events) {
    if (!e.onDropped) continue;
    try {
      e.onDropped(reason);
    } catch (err) {
      log.warn({ err }, 'usage onDropped hook failed');
    }
  }
}
