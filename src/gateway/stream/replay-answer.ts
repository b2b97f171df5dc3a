/* A stream a step answered (a cache hit, say): the answer sent as chunks, as an upstream would have streamed it. */
import type { ChatResponse } from '../../providers/types.js';
import type { Channel } from '../channel.js';
import type { Answer, Invocation } from '../invocation.js';
import type { PipelineDeps } from '../pipeline.js';
import type { ChatChunk } from '../results.js';
import { markCancelled, record } from '../call/record.js';
import { settleAnswer } from '../call/settle.js';
import { reasoningChunk, reasoningPieces, sendsReasoning, streamChunk } from './chunks.js';
import { closeAnswered, endRefused } from './finish-stream.js';
import { filterText } from './text-filter.js';

export async function replayAnswer(inv: Invocation, deps: PipelineDeps, channel: Channel<ChatChunk>): Promise<void> {
  const answer = inv.answer as Answer<ChatResponse>;
  const res = answer.response;
  inv.event.ttftMs = inv.elapsedMs();
  deps.observer.firstToken?.(inv.modelName, inv.event.ttftMs);
  let index = 0;
  let text: string;
  try {
    text = res.content && inv.outputFilters.length ? filterText(inv, res.content) : (res.content ?? '');
  } catch (refusal) {
    return endRefused(inv, deps, channel, index, settleAnswer(inv, answer), refusal);
  }
  // the reasoning first, as the model produced it before its answer (where relayed reasoning would be sent)
  if (sendsReasoning(inv)) for (const piece of reasoningPieces(res.reasoning ?? [])) await channel.push(reasoningChunk(inv, index++, '', null, piece));
  if (text) await channel.push(streamChunk(inv, index++, text, null));
  // unless the output rules judge tool calls: closeAnswered sends them, judged, after the text
  if (res.toolCalls.length && !inv.guardToolArguments) {
    await channel.push(streamChunk(inv, index++, '', res.toolCalls.map((t, i) => ({ index: i, id: t.id, name: t.name, argumentsDelta: t.arguments }))));
  }
  if (channel.isEnded) {
    // the client left during the replay: no upstream was asked, so nothing is charged, and the record says so
    inv.settle(0, 0);
    Object.assign(inv.event, { provider: answer.provider, upstreamModel: answer.upstreamModel, latencyMs: inv.elapsedMs() });
    // still a hit (the lookup metrics counted it), though nothing was delivered in full, so nothing was saved
    if (answer.cacheHit) Object.assign(inv.event, { cacheHit: answer.cacheHit.kind, cacheSimilarity: answer.cacheHit.similarity });
    markCancelled(inv.event);
    return record(inv, deps);
  }
  await closeAnswered(inv, deps, channel, index, settleAnswer(inv, answer));
}
