/* Helpers for the end-to-end gateway tests: catalogue set-up through GraphQL, chat/usage queries, a small graphql-ws client. */
import { createServer } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { GqlResponse, TestGateway } from '../kit/start-gateway.js';
import type { RecordedRequest } from '../mocks/mock-server.js';
import type { OpenAIMock, OpenAIMockReply } from '../mocks/openai.js';

let seq = 0;
/** A name unique within the test process (providers, models, upstream model ids). */
export const uniq = (prefix: string): string => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]);
}

/** Fails the test with the GraphQL errors instead of a confusing undefined. */
export function ok<T>(res: GqlResponse<T>): T {
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

export type ProviderKind = 'OPENAI' | 'OPENAI_COMPATIBLE' | 'ANTHROPIC' | 'GEMINI' | 'ECHO';

export async function createProvider(gw: TestGateway, input: { name: string; kind: ProviderKind; baseUrl?: string; apiKey?: string }): Promise<void> {
  ok(await gw.gql('mutation($input: CreateProviderInput!) { createProvider(input: $input) { id } }', { input }));
}

export interface TargetInput {
  provider: string;
  upstreamModel: string;
  weight?: number;
  priority?: number;
}

export interface ModelInput {
  name: string;
  targets: TargetInput[];
  strategy?: 'PRIORITY' | 'WEIGHTED' | 'ROUND_ROBIN' | 'LEAST_BUSY' | 'LOWEST_LATENCY';
  fallbacks?: string[];
  timeoutMs?: number;
  inputPricePerMTok?: number;
  outputPricePerMTok?: number;
}

export async function createModel(gw: TestGateway, input: ModelInput): Promise<void> {
  ok(await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', { input }));
}

const CHAT = /* GraphQL */ `
  mutation Chat($input: ChatInput!) {
    chat(input: $input) {
      id model provider upstreamModel attempts latencyMs finishReason
      message { role content toolCalls { id name arguments } }
      usage { promptTokens completionTokens totalTokens costUsd }
    }
  }
`;

export interface ChatResultOut {
  id: string;
  model: string;
  provider: string;
  upstreamModel: string;
  attempts: number;
  latencyMs: number;
  finishReason: string;
  message: { role: string; content: string | null; toolCalls: Array<{ id: string; name: string; arguments: string }> };
  usage: UsageOut;
}

interface UsageOut {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
}

export type ChatInputOut = Record<string, unknown> & { model: string };

export const userSays = (text: string) => [{ role: 'USER', content: text }];

export async function chat(gw: TestGateway, input: ChatInputOut, key?: string): Promise<GqlResponse<{ chat: ChatResultOut }>> {
  return gw.gql<{ chat: ChatResultOut }>(CHAT, { input }, key);
}

/** The provider that answered a chat that must succeed (a light query, for calls by the thousand). */
export async function answeredBy(gw: TestGateway, input: ChatInputOut, key?: string): Promise<string> {
  return ok(await gw.gql<{ chat: { provider: string } }>('mutation($input: ChatInput!) { chat(input: $input) { provider } }', { input }, key)).chat.provider;
}

/** A chat that must succeed. */
export async function chatOk(gw: TestGateway, input: ChatInputOut, key?: string): Promise<ChatResultOut> {
  return ok(await chat(gw, input, key)).chat;
}

export interface UsageRecordOut {
  id: string;
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
  metadata: unknown;
}

/** The usage records of a model (after flushing the writer), newest first; at most 50 (the query cost limit). */
export async function usageOf(gw: TestGateway, model: string): Promise<UsageRecordOut[]> {
  await gw.flushUsage();
  const res = await gw.gql<{ usage: { edges: Array<{ node: UsageRecordOut }> } }>(
    `query($filter: UsageFilter) { usage(filter: $filter, first: 50) { edges { node {
      id model provider upstreamModel promptTokens completionTokens costUsd latencyMs ttftMs status errorCode streamed attempts metadata
    } } } }`,
    { filter: { model } },
  );
  return ok(res).usage.edges.map((e) => e.node);
}

/** Waits until a model has `n` usage records (stream records are written when the stream ends). */
export async function usageEventually(gw: TestGateway, model: string, n: number, ms = 3000): Promise<UsageRecordOut[]> {
  const until = Date.now() + ms;
  for (;;) {
    const recs = await usageOf(gw, model);
    if (recs.length >= n || Date.now() > until) return recs;
    await sleep(25);
  }
}

interface TargetHealth {
  upstreamModel: string;
  healthy: boolean;
  provider: { name: string };
}

async function targetsOf(gw: TestGateway, model: string): Promise<TargetHealth[]> {
  const res = await gw.gql<{ model: { targets: TargetHealth[] } }>(
    'query($name: String!) { model(name: $name) { targets { upstreamModel healthy provider { name } } } }',
    { name: model },
  );
  return ok(res).model.targets;
}

export async function healthOf(gw: TestGateway, model: string, provider: string): Promise<boolean> {
  const t = (await targetsOf(gw, model)).find((x) => x.provider.name === provider);
  if (!t) throw new Error(`model ${model} has no target on ${provider}`);
  return t.healthy;
}

/** A TCP port nothing listens on (bound, then released): connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/* ---------------------------------------------------------------- graphql-ws */

export function wsClient(gw: TestGateway, key: string): Client {
  return createClient({
    url: `${gw.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
    lazy: true,
  });
}

export const CHAT_STREAM = /* GraphQL */ `
  subscription Stream($input: ChatInput!) {
    chatStream(input: $input) {
      id model delta finishReason
      toolCalls { index id name argumentsDelta }
      usage { promptTokens completionTokens totalTokens costUsd }
    }
  }
`;

export interface ChunkOut {
  id: string;
  model: string;
  delta: string;
  finishReason: string | null;
  toolCalls: Array<{ index: number; id: string | null; name: string | null; argumentsDelta: string | null }> | null;
  usage: UsageOut | null;
  /** ms since the subscription started, when the client received it */
  at: number;
}

interface GqlErrorOut {
  message: string;
  extensions?: Record<string, unknown>;
}

export interface StreamRun {
  startedAt: number;
  chunks: ChunkOut[];
  /** GraphQL errors, from an `error` message or from a `next` result carrying errors. */
  errors: GqlErrorOut[];
  /** Resolves once the first chunk arrived. */
  firstChunk: Promise<ChunkOut>;
  /** Resolves when the subscription completed or errored (never rejects). */
  done: Promise<{ completed: boolean; errors: GqlErrorOut[]; chunks: ChunkOut[]; endedAt: number }>;
  unsubscribe(): void;
}

/** Starts a chatStream subscription over graphql-ws and records every chunk with its arrival time. */
export function subscribeChat(client: Client, input: ChatInputOut): StreamRun {
  const startedAt = Date.now();
  const chunks: ChunkOut[] = [];
  const errors: GqlErrorOut[] = [];
  let resolveFirst!: (c: ChunkOut) => void;
  let resolveDone!: (v: { completed: boolean; errors: GqlErrorOut[]; chunks: ChunkOut[]; endedAt: number }) => void;
  const firstChunk = new Promise<ChunkOut>((r) => (resolveFirst = r));
  const done = new Promise<{ completed: boolean; errors: GqlErrorOut[]; chunks: ChunkOut[]; endedAt: number }>((r) => (resolveDone = r));
  const unsubscribe = client.subscribe<{ chatStream: Omit<ChunkOut, 'at'> }>(
    { query: CHAT_STREAM, variables: { input } },
    {
      next(result) {
        if (result.errors?.length) errors.push(...(result.errors as GqlErrorOut[]));
        const c = result.data?.chatStream;
        if (c) {
          const chunk = { ...c, at: Date.now() - startedAt };
          chunks.push(chunk);
          if (chunks.length === 1) resolveFirst(chunk);
        }
      },
      error(err) {
        if (Array.isArray(err)) errors.push(...(err as GqlErrorOut[]));
        else errors.push({ message: err instanceof Error ? err.message : String((err as { reason?: string })?.reason ?? err), extensions: { code: 'TRANSPORT' } });
        resolveDone({ completed: false, errors, chunks, endedAt: Date.now() - startedAt });
      },
      complete() {
        resolveDone({ completed: true, errors, chunks, endedAt: Date.now() - startedAt });
      },
    },
  );
  return { startedAt, chunks, errors, firstChunk, done, unsubscribe };
}

/** Runs a stream to its end (bounded: a hang fails the test). */
export async function streamAll(client: Client, input: ChatInputOut, ms = 5000) {
  const run = subscribeChat(client, input);
  return withTimeout(run.done, ms, 'the end of the chatStream subscription');
}

/** The text of a stream's chunks. */
export const textOf = (chunks: ChunkOut[]) => chunks.map((c) => c.delta).join('');

/* ---------------------------------------------------------------- scripted OpenAI upstreams */


export interface ModelScripts {
  /** Replies for requests naming this upstream model, in order; the last one repeats. */
  set(upstreamModel: string, ...replies: OpenAIMockReply[]): void;
  /** Chat requests the mock received for this upstream model. */
  requests(upstreamModel: string): RecordedRequest[];
}

/** Scripts an OpenAI mock per upstream model, so every test (and every target) has its own behaviour. */
export function scriptByModel(mock: OpenAIMock): ModelScripts {
  const scripts = new Map<string, OpenAIMockReply[]>();
  mock.reply((req) => {
    const q = scripts.get(req.body?.model);
    if (!q?.length) return {};
    return q.length > 1 ? q.shift()! : q[0];
  });
  return {
    set(upstreamModel, ...replies) {
      scripts.set(upstreamModel, replies.length ? replies : [{}]);
    },
    requests: (m) => mock.chatRequests().filter((r) => r.body?.model === m),
  };
}

/** Counts how often each value occurs. */
export function tally(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** Runs `fn` for 0..n-1 with at most `concurrency` in flight. */
export async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}
