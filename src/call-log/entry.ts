/*
 * The call log entry of a finished invocation, built in record() from what the invocation kept. METADATA keeps no
 * text a caller or a model wrote (ids, status, parameters, attempts); FULL adds the request as the upstream got it
 * (after the input rules) and the answer as the caller got it (placeholders kept), with the words to search them by.
 */
import type { ChatMessage, ChatResponse, EmbedResponse, ToolCall } from '../providers/types.js';
import { embedTexts } from '../gateway/embed-texts.js';
import type { Invocation } from '../gateway/invocation.js';
import type { CallLogDraft } from './draft.js';
import { hasOutputRules, loggedAnswer } from './logged-answer.js';
import { fitBodies } from './truncate.js';
import type { AttemptRecord, CallLogEntry } from './types.js';

/**
 * The search text is cut here: a tsvector holds at most 1 MB, and a call log the database refuses is dropped whole.
 * Words past it are not found by the search; the stored bodies still have them.
 */
const SEARCH_TEXT_MAX_CHARS = 200_000;

export function buildCallLogEntry(inv: Invocation, draft: CallLogDraft, maxBodyBytes: number): CallLogEntry {
  const ev = inv.event;
  const entry: CallLogEntry = {
    id: inv.id,
    createdAt: ev.createdAt,
    requestId: inv.options.requestId ?? null,
    apiKeyId: ev.apiKeyId,
    teamId: ev.teamId,
    model: inv.modelName,
    status: ev.status,
    level: draft.level,
    parameters: parametersOf(inv),
    request: null,
    response: null,
    attempts: ev.status === 'CANCELLED' ? endedByCancel(draft.attempts) : draft.attempts,
    traceId: inv.trace?.traceId ?? null,
    searchText: null,
    bodyBytes: 0,
    truncated: false,
  };
  if (draft.level !== 'FULL') return entry;
  const fitted = fitBodies(requestBody(inv, draft), responseBody(inv, draft), maxBodyBytes);
  entry.request = fitted.request;
  entry.response = fitted.response;
  entry.bodyBytes = fitted.bodyBytes;
  entry.truncated = fitted.truncated;
  const text = searchText(fitted.request, fitted.response);
  entry.searchText = text.length > SEARCH_TEXT_MAX_CHARS ? text.slice(0, SEARCH_TEXT_MAX_CHARS) : text;
  return entry;
}

/**
 * A stream the client left ends its held attempt as released, which the router counts as a success: the timeline
 * says what happened to it.
 */
function endedByCancel(attempts: AttemptRecord[]): AttemptRecord[] {
  const last = attempts.at(-1);
  if (last?.outcome !== 'OK') return attempts;
  return [...attempts.slice(0, -1), { ...last, outcome: 'CANCELLED', error: 'cancelled by the client' }];
}

/** How the call was asked, without a word of its text: no contents, no arguments, no stop sequences. */
function parametersOf(inv: Invocation): Record<string, unknown> {
  if (inv.input.kind === 'embed') return { inputCount: inv.input.embed.input.length };
  const req = inv.request;
  if (!req) return { streamed: inv.input.kind === 'stream' };
  return {
    streamed: inv.input.kind === 'stream',
    messageCount: req.messages.length,
    roles: req.messages.map((m) => m.role),
    temperature: req.temperature,
    topP: req.topP,
    maxTokens: req.maxTokens,
    stopCount: req.stop?.length,
    seed: req.seed,
    tools: req.tools?.map((t) => t.name),
    toolChoice: req.toolChoice,
    responseFormat: req.jsonMode ? 'JSON' : undefined,
    reasoning: req.reasoning,
  };
}

/** A guardrail refused this side of the call: its text was never let through, so the log keeps none of it. */
const blocked = (inv: Invocation, stage: 'INPUT' | 'OUTPUT'): boolean => inv.event.guardrails?.some((g) => g.stage === stage && g.action === 'BLOCKED') ?? false;

function requestBody(inv: Invocation, draft: CallLogDraft): unknown {
  if (blocked(inv, 'INPUT')) return null;
  // policies apply but their input rules did not run to the end (the call failed in them: an unusable or deleted
  // policy, the store away): the text they were to redact is still the caller's, and it is not kept
  const guarded = inv.principal.key.guardrailPolicyIds.length > 0 || inv.resolved.row.guardrailPolicyIds.length > 0;
  if (guarded && !draft.inputGuarded) return null;
  if (inv.input.kind === 'embed') return { input: embedTexts(inv) };
  if (!inv.request) return null;
  return { ...inv.request };
}

function responseBody(inv: Invocation, draft: CallLogDraft): unknown {
  if (blocked(inv, 'OUTPUT')) return null;
  if (inv.input.kind === 'embed') {
    const res = inv.answer?.response as EmbedResponse | undefined;
    return res ? { dimensions: res.vectors[0]?.length ?? 0, count: res.vectors.length } : null;
  }
  const res = inv.answer?.response as ChatResponse | undefined;
  if (res) {
    const text = loggedAnswer(inv, { content: res.content, toolCalls: res.toolCalls });
    if (!text) return null;
    const reasoning = res.reasoning?.length && !hasOutputRules(inv) ? res.reasoning : undefined;
    return { ...text, finishReason: res.finishReason, usage: res.usage, ...(reasoning ? { reasoning } : {}) };
  }
  // a stream that ended early (failed, cancelled): what the upstream had sent by then
  const sofar = draft.stream;
  if (!sofar || (!sofar.text && !sofar.toolCalls.length)) return null;
  const text = loggedAnswer(inv, { content: sofar.text, toolCalls: sofar.toolCalls.filter((c): c is ToolCall => c !== undefined) });
  return text ? { ...text, finishReason: null, partial: true } : null;
}

function messageText(m: ChatMessage, out: string[]): void {
  if (m.content) out.push(m.content);
  for (const p of m.parts ?? []) if (p.type === 'TEXT') out.push(p.text);
  for (const c of m.toolCalls ?? []) out.push(c.arguments);
}

/** Every message's and the answer's text, for `to_tsvector('simple', …)`. */
function searchText(request: unknown, response: unknown): string {
  const out: string[] = [];
  const req = request as { messages?: ChatMessage[]; input?: string[] } | null;
  for (const m of req?.messages ?? []) messageText(m, out);
  for (const t of req?.input ?? []) out.push(t);
  const res = response as { content?: string | null; toolCalls?: ToolCall[] } | null;
  if (res?.content) out.push(res.content);
  for (const c of res?.toolCalls ?? []) out.push(c.arguments);
  return out.join('\n');
}
