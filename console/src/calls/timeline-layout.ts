/*
 * Where each attempt of a call sits on the timeline: one shared axis from the invocation's start to its last
 * moment, every position a percentage of it, so the bars line up whatever the page's width.
 */
import type { CallAttempt } from './documents';

export interface AttemptLane {
  attempt: CallAttempt;
  /** The retry wait before the attempt (0 width when none) */
  wait: { left: number; width: number };
  /** The attempt itself; `open` when it has no recorded end (drawn to the axis' end) */
  bar: { left: number; width: number; open: boolean };
  /** Where the upstream's response headers came, when they did */
  ttfb: number | null;
}

export interface TimelineLayout {
  /** The axis' length in ms */
  spanMs: number;
  /** Tick marks: their ms and position */
  ticks: Array<{ ms: number; at: number }>;
  lanes: AttemptLane[];
}

/** A round step giving about `count` ticks over `span` ms: 1, 2 or 5 times a power of ten */
function tickStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 5, 10].find((m) => m * power >= raw) ?? 10;
  return unit * power;
}

/** The smallest width a bar gets, so an attempt of 0 ms still shows (a share of the axis) */
const MIN_WIDTH = 0.4;

export function layoutTimeline(attempts: readonly CallAttempt[], totalMs?: number | null): TimelineLayout {
  const ends = attempts.map((a) => a.startMs + (a.durationMs ?? a.ttfbMs ?? 0));
  // the call's latency, when known, may run past the last attempt (the answer is still written after it)
  const span = Math.max(1, totalMs ?? 0, ...ends);
  const step = tickStep(span, 5);
  const pct = (ms: number) => Math.min(100, Math.max(0, (ms / span) * 100));
  const ticks: TimelineLayout['ticks'] = [];
  for (let ms = 0; ms <= span + 1e-9; ms += step) ticks.push({ ms, at: pct(ms) });
  const lanes = [...attempts]
    .sort((a, b) => a.attempt - b.attempt)
    .map((a): AttemptLane => {
      const left = pct(a.startMs);
      const open = a.durationMs == null;
      const width = open ? 100 - left : Math.max(MIN_WIDTH, pct(a.startMs + a.durationMs!) - left);
      const waitLeft = pct(a.startMs - a.waitMs);
      return {
        attempt: a,
        wait: { left: waitLeft, width: left - waitLeft },
        bar: { left, width: Math.min(width, 100 - left), open },
        ttfb: a.ttfbMs == null ? null : pct(a.startMs + a.ttfbMs),
      };
    });
  return { spanMs: span, ticks, lanes };
}
