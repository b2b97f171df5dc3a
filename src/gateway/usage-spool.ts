/*
 * The usage spool: every record is appended to a local segment file before the batching writer takes it, so a crashed
 * (or killed) process, or one whose database was away for long, loses nothing: the next start on the same folder
 * replays what was not written. Appends are group-committed: one fdatasync every `commitMs` covers all appended so
 * far, and only then are the records handed to the writer's backlog.
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open as openFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BacklogSpool } from './usage-backlog.js';
import { takeSpoolLock } from './usage-spool-lock.js';
import { parseSpoolLine, spoolLine, splitSegment } from './usage-spool-lines.js';
import type { UsageEvent } from './usage-writer.js';

export interface UsageSpoolOptions {
  dir: string;
  log: Logger;
  /** How long appends wait for their shared fdatasync: a machine crash loses at most this much. */
  commitMs?: number;
  /** A segment is sealed (and a new one begun) past this size. */
  segmentBytes?: number;
  /** A segment is sealed once this old (at its next commit, or when idle), and deleted once its records are written. */
  sealAfterMs?: number;
}

/** Where the spool hands its records: the usage writer. */
export interface SpoolSink {
  /** Records now on disk (fdatasync'd), in append order. */
  committed(events: UsageEvent[]): void;
  /** A segment waits for a replay pass. */
  replayQueued(): void;
}

/** One segment file being replayed: its lines, and how far the replay got (kept across failed attempts). */
export interface ReplayJob {
  path: string;
  lines: string[];
  next: number;
  /** Lines that were not records (corrupt); the torn last line is not among them. */
  skipped: number;
  /** Lines before this one were parsed (and their skips counted) before: a step retried after an outage counts none twice. */
  parsed?: number;
  /** Records the replay inserted so far (the others were written before). */
  inserted?: number;
}

interface Segment {
  seq: number;
  path: string;
  /** Open while records are appended (-1 when the file could not be created); undefined once sealed. */
  fd: number | undefined;
  bytes: number;
  openedAt: number;
  appended: number;
  /** Records handed over and since written, refused or let go from memory. */
  left: number;
  /** Some records were let go from memory unwritten: the sealed segment is replayed, not deleted. */
  evicted: boolean;
  /** A failed write may have left a partial line: the next append starts on a fresh line. */
  torn: boolean;
  /** The folder was synced since the file was created: its name survives a machine crash too. */
  named: boolean;
}

const SEGMENT_FILE = /^(\d+)\.jsonl$/;

/** fdatasync's failure as a value; a segment that was never created (fd -1) fails like a bad descriptor, not by throwing. */
function syncData(fd: number): Promise<NodeJS.ErrnoException | null> {
  if (fd < 0) return Promise.resolve(Object.assign(new Error('usage spool: segment file not open'), { code: 'EBADF' }));
  return new Promise((resolve) => fdatasync(fd, resolve));
}

export function createUsageSpool(opts: UsageSpoolOptions): UsageSpool {
  return new UsageSpool(opts);
}

export class UsageSpool {
  readonly dir: string;
  private readonly log: Logger;
  private readonly commitMs: number;
  private readonly segmentBytes: number;
  private readonly sealAfterMs: number;
  private readonly releaseLock: () => void;
  /** Segment files to replay (an earlier run's, or ours whose records were let go from memory), oldest first. */
  private readonly replays: Array<{ path: string; bytes: number; ours?: boolean }> = [];
  private nextSeq = 1;
  /** Segments with records not yet left, oldest first; the last may be the one appended to. */
  private readonly live: Segment[] = [];
  private current: Segment | undefined;
  /** Appended, not yet covered by an fdatasync. */
  private pending: UsageEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private sink: SpoolSink | undefined;
  private closed = false;
  /** The segment records recorded after close() go to (opened by the first of them); null once it could not be. */
  private late: { fd: number; path: string; torn: boolean } | null | undefined;
  private lastWriteErrorLog = 0;
  private readonly idleTimer: NodeJS.Timeout;

  /**
   * The segment of each record handed over and not yet left. Set at the hand-over (a commit timer's turn, not the
   * caller's): records leave out of order (a batch in flight while newer ones are let go at the bound).
   */
  private readonly owners = new Map<UsageEvent, Segment>();

  /**
   * Records whose line did not reach the disk (a failed write or fdatasync, or a segment never created): a replay
   * cannot bring them back, so the backlog must not let them go as spooled.
   */
  private readonly unspooled = new WeakSet<UsageEvent>();

  /** BacklogSpool: the writer's backlog tells which handed-over records left. */
  readonly backlog: BacklogSpool = {
    released: (events) => this.leave(events, false),
    evicted: (events) => this.leave(events, true),
    onDisk: (e) => !this.unspooled.has(e),
  };

  constructor(opts: UsageSpoolOptions) {
    this.dir = opts.dir;
    this.log = opts.log;
    this.commitMs = opts.commitMs ?? 5;
    this.segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
    this.sealAfterMs = opts.sealAfterMs ?? 1000;
    mkdirSync(this.dir, { recursive: true });
    this.releaseLock = takeSpoolLock(this.dir);
    // what earlier processes left is replayed; our segments are numbered after theirs
    for (const name of readdirSync(this.dir).sort()) {
      const m = SEGMENT_FILE.exec(name);
      if (!m) continue;
      this.nextSeq = Math.max(this.nextSeq, Number(m[1]) + 1);
      this.replays.push({ path: join(this.dir, name), bytes: statSync(join(this.dir, name)).size });
    }
    if (this.replays.length) this.log.info({ segments: this.replays.length, dir: this.dir }, 'usage spool: replaying segments left by an earlier run');
    this.idleTimer = setInterval(() => this.sealIfIdle(), this.sealAfterMs);
    this.idleTimer.unref();
  }

  /** The usage writer: records go there once on disk, and it is told of segments to replay. */
  attach(sink: SpoolSink): void {
    this.sink = sink;
    if (this.replays.length) sink.replayQueued();
  }

  /**
   * Appends the record as one line, synchronously: once this returns, its bytes are in the kernel and survive the
   * process being killed. Nothing here waits for the disk. False only after close(), for a record that could not be
   * kept for the next start (the caller counts it lost).
   */
  append(e: UsageEvent): boolean {
    if (this.closed) return this.appendLate(e);
    const seg = this.current ?? this.open();
    try {
      const line = spoolLine(e);
      writeSync(seg.fd!, seg.torn ? '\n' + line : line);
      seg.bytes += line.length;
      seg.torn = false;
    } catch (err) {
      // a full disk must not fail the call: the record goes on in memory, as without the spool
      seg.torn = true;
      this.unspooled.add(e);
      this.errorRarely(err, seg.path, 'usage spool: append failed; records are kept in memory only until it works again');
    }
    seg.appended++;
    this.pending.push(e);
    this.timer ??= setTimeout(() => void this.commit(), this.commitMs);
    return true;
  }

  /**
   * A record that finished after the stop (a stream cut at the deadline whose upstream was slow to abort): nothing
   * writes it any more, so it goes to a segment of its own for the next start to replay. Synced at once (the process
   * is about to exit); the lock, released by close(), is taken again until the process exits.
   */
  private appendLate(e: UsageEvent): boolean {
    if (this.late === null) return false;
    try {
      if (!this.late) {
        const release = takeSpoolLock(this.dir);
        const path = join(this.dir, `${String(this.nextSeq++).padStart(12, '0')}.jsonl`);
        let fd: number;
        try {
          fd = openSync(path, 'a');
          const dir = openSync(this.dir, 'r');
          try {
            fsyncSync(dir);
          } finally {
            closeSync(dir);
          }
        } catch (err) {
          release();
          throw err;
        }
        process.once('exit', release);
        this.late = { fd, path, torn: false };
      }
      const late = this.late;
      const line = spoolLine(e);
      const text = late.torn ? '\n' + line : line;
      // a write that fails part way leaves a partial line: the next one starts on a fresh line
      late.torn = true;
      writeSync(late.fd, text);
      late.torn = false;
      fdatasyncSync(late.fd);
      return true;
    } catch (err) {
      // another gateway took the folder over, or the disk fails: the writer counts the record lost
      if (!this.late) this.late = null;
      this.log.error({ err, dir: this.dir }, 'usage spool: a record that came after the stop could not be kept for the next start');
      return false;
    }
  }

  /** Syncs what was appended and hands it over; one at a time, again while more came meanwhile. */
  commit(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.committing) return this.committing.then(() => (this.pending.length ? this.commit() : undefined));
    if (!this.pending.length) return Promise.resolve();
    this.committing = this.commitAll().finally(() => (this.committing = undefined));
    return this.committing;
  }

  /** Records appended and not yet handed over (waiting for their fdatasync). */
  uncommitted(): number {
    return this.pending.length;
  }

  /** The next segment to replay, read and split into lines; undefined when none is waiting. */
  async nextReplay(): Promise<ReplayJob | undefined> {
    while (this.replays.length) {
      const { path, ours } = this.replays[0];
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        this.replays.shift();
        const gone = (err as NodeJS.ErrnoException).code === 'ENOENT';
        // an earlier run's segment may have been replayed by a run that died before forgetting it; ours was let go
        // from memory for this very replay, so its absence means records lost
        if (!gone) this.log.error({ err, path }, 'usage spool: segment not readable; left in place');
        else if (ours) this.log.error({ path }, 'usage spool: a segment queued for replay is gone; records let go from memory are lost');
        continue;
      }
      const { lines, torn } = splitSegment(text);
      if (torn) this.log.warn({ path }, 'usage spool: the last line of a segment was torn (the process died mid-write); skipped');
      return { path, lines, next: 0, skipped: 0 };
    }
    return undefined;
  }

  /** The records of the job's next `n` lines (corrupt lines skipped, counted); advance with `job.next += n` once written. */
  parseNext(job: ReplayJob, n: number): UsageEvent[] {
    const out: UsageEvent[] = [];
    const end = Math.min(job.lines.length, job.next + n);
    const counted = job.parsed ?? 0;
    for (let i = job.next; i < end; i++) {
      const e = parseSpoolLine(job.lines[i]);
      if (e) out.push(e);
      else if (i >= counted) job.skipped++;
    }
    job.parsed = Math.max(counted, end);
    return out;
  }

  /** Every record of the job is written (or was already): its segment goes. */
  replayed(job: ReplayJob, inserted: number): void {
    const i = this.replays.findIndex((r) => r.path === job.path);
    if (i >= 0) this.replays.splice(i, 1);
    this.remove(job.path);
    if (job.skipped) this.log.error({ path: job.path, skipped: job.skipped }, 'usage spool: lines that were not records skipped in a replayed segment');
    this.log.info({ path: job.path, records: job.lines.length - job.skipped, inserted }, 'usage spool: segment replayed');
  }

  /** Segments on disk and their bytes (estimated from the characters appended). */
  stats(): { segments: number; bytes: number } {
    let bytes = 0;
    for (const s of this.live) bytes += s.bytes;
    for (const r of this.replays) bytes += r.bytes;
    return { segments: this.live.length + this.replays.length, bytes };
  }

  /**
   * Syncs what is left, seals the segment and releases the lock; what was not written stays for the next start.
   * Returns how many records that is (not counting segments still waiting for a replay: those are not read).
   */
  async close(): Promise<number> {
    await this.commit();
    this.closed = true;
    clearInterval(this.idleTimer);
    if (this.current) this.seal(this.current);
    this.retireFinished();
    let left = 0;
    for (const s of this.live) left += s.appended - s.left;
    this.releaseLock();
    return left;
  }

  private async commitAll(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      const seg = this.current!;
      // sealed before the sync: appends from now on go to the next segment and the next sync. Sealed by age too, so
      // under a steady load written segments are deleted within seconds instead of growing to the size bound
      const full = seg.bytes >= this.segmentBytes || Date.now() - seg.openedAt >= this.sealAfterMs;
      if (full) this.current = undefined;
      const err = (await syncData(seg.fd!)) ?? (await this.syncName(seg));
      if (err) {
        // the kernel may have dropped the unsynced pages: the lines cannot be counted on for a replay
        for (const e of batch) this.unspooled.add(e);
        this.errorRarely(err, seg.path, 'usage spool: fdatasync failed; the records are kept in memory only');
      }
      if (full) this.seal(seg);
      for (const e of batch) this.owners.set(e, seg);
      this.sink?.committed(batch);
      this.retireFinished();
    }
  }

  /** A new file's name is durable once its folder is synced: once per segment, with its first commit. */
  private async syncName(seg: Segment): Promise<NodeJS.ErrnoException | null> {
    if (seg.named) return null;
    try {
      const dir = await openFile(this.dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      seg.named = true;
      return null;
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
  }

  /** One error line every 5 s at most while the disk fails (every append and commit would log otherwise). */
  private errorRarely(err: unknown, path: string, msg: string): void {
    const now = Date.now();
    if (now - this.lastWriteErrorLog < 5000) return;
    this.lastWriteErrorLog = now;
    this.log.error({ err, path }, msg);
  }

  private open(): Segment {
    const seq = this.nextSeq++;
    const path = join(this.dir, `${String(seq).padStart(12, '0')}.jsonl`);
    let fd = -1;
    try {
      fd = openSync(path, 'a');
    } catch (err) {
      // counted like any segment (appends and syncs fail on it, records go on in memory); tried again once it retires
      this.errorRarely(err, path, 'usage spool: segment not created; records are kept in memory only until it works again');
    }
    const seg: Segment = { seq, path, fd, bytes: 0, openedAt: Date.now(), appended: 0, left: 0, evicted: false, torn: false, named: false };
    this.live.push(seg);
    return (this.current = seg);
  }

  private seal(seg: Segment): void {
    if (seg.fd !== undefined && seg.fd >= 0) closeSync(seg.fd);
    seg.fd = undefined;
    if (this.current === seg) this.current = undefined;
  }

  /** Sealed segments whose records have all left: deleted, or queued for replay when some were let go unwritten. */
  private retireFinished(): void {
    const { live } = this;
    for (let i = 0; i < live.length; ) {
      const seg = live[i];
      if (seg.fd !== undefined || seg.left !== seg.appended) {
        i++;
        continue;
      }
      live.splice(i, 1);
      if (!seg.evicted) {
        this.remove(seg.path);
        continue;
      }
      this.replays.push({ path: seg.path, bytes: seg.bytes, ours: true });
      this.sink?.replayQueued();
    }
  }

  private remove(path: string): void {
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.error({ err, path }, 'usage spool: segment not deleted');
    }
  }

  /** The current segment goes once all its records are written and it is old enough: an idle spool keeps no file. */
  private sealIfIdle(): void {
    const seg = this.current;
    if (!seg || this.committing || this.pending.length || seg.left !== seg.appended || Date.now() - seg.openedAt < this.sealAfterMs) return;
    this.seal(seg);
    this.retireFinished();
  }

  /** Handed-over records left the writer; `evicted`: unwritten, their segment is replayed. Told twice: no-op. */
  private leave(events: readonly UsageEvent[], evicted: boolean): void {
    let any = false;
    for (const e of events) {
      const seg = this.owners.get(e);
      // not ours (appended after the stop) or already told
      if (!seg) continue;
      this.owners.delete(e);
      seg.left++;
      if (evicted) seg.evicted = true;
      any = true;
    }
    if (any) this.retireFinished();
  }
}
