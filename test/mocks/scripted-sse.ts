/* Writing a scripted reply's SSE events with the conformance behaviours (gaps, cut, stall); shared by the H4 mocks. */
import type { ServerResponse } from 'node:http';
import type { ConformanceReply } from '../providers/conformance/types.js';
import type { RecordedRequest } from './mock-server.js';

export interface SseEvent {
  event?: string;
  data: string;
  /** Counts toward `cutAfter` / `stallAfter` (an event carrying answer text). */
  text?: boolean;
}

/** The answer's words as streamed: each word with its following whitespace. */
export function words(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes the events, `gapMs` apart; after `cutAfter` text events the socket is destroyed, after `stallAfter` the
 * mock goes silent with the connection open until the client leaves. `eol` is the line ending (Google uses CRLF).
 */
export async function writeScriptedSse(
  req: RecordedRequest,
  res: ServerResponse,
  events: SseEvent[],
  reply: Pick<ConformanceReply, 'gapMs' | 'cutAfter' | 'stallAfter'>,
  opts: { headers?: Record<string, string>; eol?: string } = {},
): Promise<void> {
  const eol = opts.eol ?? '\n';
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...opts.headers });
  res.flushHeaders();
  let texts = 0;
  for (const ev of events) {
    if (res.destroyed) return;
    if (ev.text && reply.cutAfter !== undefined && texts >= reply.cutAfter) return void res.socket?.destroy();
    if (ev.text && reply.stallAfter !== undefined && texts >= reply.stallAfter) return void (await req.closedEarly);
    res.write(`${ev.event ? `event: ${ev.event}${eol}` : ''}data: ${ev.data}${eol}${eol}`);
    if (ev.text) texts++;
    if (reply.gapMs) await sleep(reply.gapMs);
  }
  res.end();
}
