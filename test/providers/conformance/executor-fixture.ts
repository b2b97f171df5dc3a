/*
 * The gateway's retry loop (createExecutor) around one provider target, for the suite's gateway-level retry checks:
 * the real executor and router with a one-target model, calling the adapter the way call-upstream.ts and
 * open-stream.ts do, so "the executor retries what the adapter calls retryable" is checked per kind.
 */
import pino from 'pino';
import type { ModelRow } from '../../../src/db/schema.js';
import { callOptions } from '../../../src/gateway/call/call-upstream.js';
import { createExecutor, type AttemptOutcome } from '../../../src/gateway/attempt.js';
import { createRouter } from '../../../src/gateway/route.js';
import type { ProviderKind } from '../../../src/providers/registry.js';
import type { CallOptions, ChatRequest, ChatResponse, ProviderAdapter, StreamChunk } from '../../../src/providers/types.js';
import type { CatalogueService, ResolvedModel } from '../../../src/services/catalogue.js';
import { NEVER } from '../../../src/util/cancellation.js';

export interface ExecutorFixture {
  chat(req: ChatRequest): Promise<AttemptOutcome<ChatResponse>>;
  /** Opens the stream under the executor (retried until the first chunk), then reads it to the end. */
  stream(req: ChatRequest): Promise<{ attempts: number; chunks: StreamChunk[] }>;
}

export function executorFixture(opts: {
  kind: string;
  adapter: ProviderAdapter;
  upstreamModel: string;
  /** The provider's base URL, credential and settings. */
  provider: Partial<CallOptions>;
  timeoutMs: number;
}): ExecutorFixture {
  const executor = createExecutor({
    router: createRouter(),
    // the model has no fallbacks: the catalogue is never asked
    catalogue: {} as CatalogueService,
    log: pino({ level: 'silent' }),
    // small backoffs keep the check fast; a retry-after up to 10 s is still honoured
    policy: { maxAttemptsPerModel: 3, maxAttempts: 3, deadlineMs: 60_000, backoffBaseMs: 10, backoffMaxMs: 50, defaultTimeoutMs: opts.timeoutMs },
  });
  const row = { id: `conformance-${opts.kind}`, name: `conformance-${opts.kind}`, strategy: 'PRIORITY', status: 'ACTIVE', fallbacks: [], timeoutMs: null };
  const model: ResolvedModel = {
    row: row as unknown as ModelRow,
    targets: [
      {
        id: `target-${opts.kind}`,
        upstreamModel: opts.upstreamModel,
        weight: 1,
        priority: 0,
        provider: {
          id: `provider-${opts.kind}`,
          name: `conformance-${opts.kind.toLowerCase()}`,
          kind: opts.kind as ProviderKind,
          baseUrl: opts.provider.baseUrl,
          apiKey: opts.provider.apiKey,
          settings: opts.provider.settings,
          enabled: true,
        },
      },
    ],
  };
  return {
    chat: (req) => executor.run(model, NEVER, ({ target, signal, timeoutMs }) => opts.adapter.chat(req, callOptions(target, signal, timeoutMs))),
    async stream(req) {
      const outcome = await executor.run(
        model,
        NEVER,
        async ({ target, signal, timeoutMs }) => {
          const iterator = opts.adapter.stream(req, callOptions(target, signal, timeoutMs))[Symbol.asyncIterator]();
          return { iterator, first: await iterator.next() };
        },
        { hold: true },
      );
      const { iterator, first } = outcome.value;
      const chunks: StreamChunk[] = [];
      try {
        for (let r = first; !r.done; r = await iterator.next()) chunks.push(r.value);
      } finally {
        outcome.release();
      }
      return { attempts: outcome.attempts, chunks };
    },
  };
}
