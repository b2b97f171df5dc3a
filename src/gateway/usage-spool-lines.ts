/* A usage record as one spool line (JSON, hooks left out, call log kept) and back. */
import type { UsageEvent } from './usage-writer.js';

/** JSON.stringify leaves out the hooks (functions) and writes dates as ISO strings: all a replay needs. */
export function spoolLine(e: UsageEvent): string {
  return JSON.stringify(e) + '\n';
}

/** The record a spool line holds, its dates revived; undefined for a line that is not one (torn, corrupt). */
export function parseSpoolLine(line: string): UsageEvent | undefined {
  let e: UsageEvent;
  try {
    e = JSON.parse(line) as UsageEvent;
  } catch {
    return undefined;
  }
  if (!e || typeof e !== 'object' || typeof e.id !== 'string' || typeof e.createdAt !== 'string') return undefined;
  e.createdAt = new Date(e.createdAt);
  if (Number.isNaN(e.createdAt.getTime())) return undefined;
  if (e.callLog) e.callLog.createdAt = new Date(e.callLog.createdAt);
  return e;
}

/**
 * A segment's text as its lines. The last one is torn when the text does not end with a newline (the process died
 * mid-write): left out and counted.
 */
export function splitSegment(text: string): { lines: string[]; torn: boolean } {
  const lines = text.split('\n');
  const last = lines.pop();
  return { lines: lines.filter((l) => l.length > 0), torn: last !== undefined && last.length > 0 };
}
