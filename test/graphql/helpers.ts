/* Shared bits for the GraphQL end-to-end tests: operations, waiting, instrumented adapters. */
import { expect } from 'vitest';
import type { ProviderAdapter } from '../../src/providers/types.js';
import type { GqlResponse, TestGateway } from '../kit/start-gateway.js';

export const CHAT = `mutation Chat($input: ChatInput!) {
  chat(input: $input) {
    id model provider upstreamModel finishReason latencyMs attempts
    message { role content toolCalls { id } }
    usage { promptTokens completionTokens totalTokens costUsd }
  }
}`;

/** What CHAT selects. */
export interface ChatOut {
  id: string;
  model: string;
  provider: string;
  upstreamModel: string;
  finishReason: string;
  latencyMs: number;
  attempts: number;
  message: { role: string; content: string | null; toolCalls: Array<{ id: string }> | null };
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; costUsd: number };
}

export const CHAT_STREAM = `subscription Stream($input: ChatInput!) {
  chatStream(input: $input) {
    id model delta finishReason
    usage { promptTokens completionTokens totalTokens costUsd }
  }
}`;

export const USAGE = `query Usage($filter: UsageFilter, $first: Int, $after: String) {
  usage(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id invocationId createdAt model provider upstreamModel promptTokens completionTokens costUsd latencyMs ttftMs status errorCode streamed attempts metadata apiKey { id name } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

export const chatInput = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'echo',
  messages: [{ role: 'USER', content }],
  ...extra,
});

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The data, or a failure that shows the GraphQL errors. */
export function ok<T>(res: GqlResponse<T>): T {
  if (res.errors?.length || !res.data) throw new Error(`unexpected GraphQL errors (HTTP ${res.status}): ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** Exactly one error with this code (and, when given, naming this field); never a 500. */
export function expectCode(res: { status?: number; errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }> | null }, code: string, field?: string) {
  expect(res.status ?? 200).toBeLessThan(500);
  expect(res.errors, `expected ${code}, got ${JSON.stringify(res)}`).toBeDefined();
  expect(res.errors!.map((e) => e.extensions?.code)).toEqual([code]);
  if (field) {
    expect(res.errors![0].extensions?.field).toBe(field);
    expect(res.errors![0].message).toContain(field);
  }
}

export interface UsageNode {
  id: string;
  /** The call's ChatResult.id (ChatChunk.invocationId). */
  invocationId: string;
  createdAt: string;
  model: string;
  provider: string | null;
  upstreamModel: string | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  status: string;
  errorCode: string | null;
  streamed: boolean;
  attempts: number;
  metadata: Record<string, unknown> | null;
  apiKey: { id: string; name: string } | null;
}

/** Every usage record of one key, newest first (flushes the writer first). */
export async function usageOf(gw: TestGateway, apiKeyId: string, filter: Record<string, unknown> = {}): Promise<UsageNode[]> {
  await gw.flushUsage();
  const data = ok(await gw.gql<{ usage: { edges: Array<{ node: UsageNode }> } }>(USAGE, { filter: { apiKeyId, ...filter }, first: 500 }));
  return data.usage.edges.map((e) => e.node);
}

export interface AdapterStats {
  streamsStarted: number;
  chunksYielded: number;
  /** Streams whose generator ended (finished, returned or threw). */
  streamsEnded: number;
  /** Streams whose CallOptions.signal was aborted while they ran. */
  signalsAborted: number;
  /** Streams that yielded their final chunk. */
  streamsCompleted: number;
}

/** Wraps an adapter and counts what the gateway made it do: proves that a cancelled stream stops upstream. */
export function instrument(inner: ProviderAdapter, opts: { chatDelayMs?: number } = {}): { adapter: ProviderAdapter; stats: AdapterStats } {
  const stats: AdapterStats = { streamsStarted: 0, chunksYielded: 0, streamsEnded: 0, signalsAborted: 0, streamsCompleted: 0 };
  const adapter: ProviderAdapter = {
    async chat(req, callOpts) {
      if (opts.chatDelayMs) await sleep(opts.chatDelayMs);
      return inner.chat(req, callOpts);
    },
    async *stream(req, callOpts) {
      stats.streamsStarted++;
      let aborted = false;
      const onAbort = () => {
        aborted = true;
      };
      callOpts.signal.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const c of inner.stream(req, callOpts)) {
          stats.chunksYielded++;
          yield c;
          if (c.finishReason) stats.streamsCompleted++;
        }
      } finally {
        callOpts.signal.removeEventListener('abort', onAbort);
        if (aborted || callOpts.signal.aborted) stats.signalsAborted++;
        stats.streamsEnded++;
      }
    },
  };
  return { adapter, stats };
}
