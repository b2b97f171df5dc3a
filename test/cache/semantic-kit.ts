/* The semantic cache's suite, run on each vector store: a real gateway embeds through a mock OpenAI upstream. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createSemanticCache, embedThroughGateway, type SemanticCacheDeps } from '../../src/cache/semantic/index.js';
import type { CachedAnswer, SemanticCache } from '../../src/cache/types.js';
import type { Principal } from '../../src/services/keys.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { createModel, createProvider, uniq, usageOf } from '../gateway/helpers.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';

const CAPITAL = 'What is the capital of France?';
/** cos(CAPITAL, PARAPHRASE) = 0.98 / √(0.98² + 0.2²) ≈ 0.97980 */
const PARAPHRASE = "Tell me France's capital city";
const PARAPHRASE_SIMILARITY = 0.98 / Math.hypot(0.98, 0.2);
/** cos ≈ 0.9: close, but under the threshold of 0.95 */
const NEIGHBOUR = 'Which city governs France?';
const FAR = 'How do I bake bread?';
const VECTORS: Record<string, number[]> = {
  [CAPITAL]: [1, 0, 0, 0],
  [PARAPHRASE]: [0.98, 0.2, 0, 0],
  [NEIGHBOUR]: [0.9, Math.sqrt(1 - 0.81), 0, 0],
  [FAR]: [0, 0, 1, 0],
};

export function answer(model: string, content: string): CachedAnswer {
  return {
    response: { id: 'chatcmpl-1', upstreamModel: 'gpt-x', content, toolCalls: [], finishReason: 'STOP', usage: { promptTokens: 7, completionTokens: 2, totalTokens: 9, exact: true } },
    provider: 'openai',
    upstreamModel: 'gpt-x',
    model,
    storedAt: Date.now(),
  };
}

/** A gateway embedding through a mock OpenAI upstream, and a key that may only chat; one per test file. */
export interface SemanticWorld {
  gw: TestGateway;
  mock: OpenAIMock;
  principal: Principal;
  keySecret: string;
  scope: string;
  embeddingModel: string;
  chatModel: string;
}

/** Starts the world before the file's tests (and stops it after); `env` may give a database (DATABASE_URL…). */
export function useSemanticWorld(env?: () => Promise<{ env: Record<string, string | undefined>; cleanup?: () => Promise<void> }>): SemanticWorld {
  const world = { embeddingModel: uniq('emb'), chatModel: uniq('chat') } as SemanticWorld;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    world.mock = await startOpenAIMock({ reply: { vectors: VECTORS } });
    const fresh = env ? await env() : { env: {} };
    cleanup = fresh.cleanup;
    const gw = (world.gw = await startGateway(fresh.env));
    const provider = uniq('openai');
    await createProvider(gw, { name: provider, kind: 'OPENAI', baseUrl: world.mock.baseUrl, apiKey: 'sk-test' });
    await createModel(gw, { name: world.embeddingModel, targets: [{ provider, upstreamModel: 'text-embedding-3-small' }] });
    await createModel(gw, { name: world.chatModel, targets: [{ provider, upstreamModel: 'gpt-x' }] });
    // the key may not ask for the embedding model itself: the operator's choice must still embed on it
    const key = await gw.createKey({ name: 'chat only', scopes: ['INVOKE'], allowedModels: [world.chatModel] });
    world.keySecret = key.secret;
    world.scope = `key:${key.uuid}`;
    world.principal = (await gw.app.services.keys.authenticate(key.secret))!;
  });
  afterAll(async () => {
    await world.gw?.stop();
    await world.mock?.close();
    await cleanup?.();
  });
  return world;
}

export interface SuiteOptions {
  name: string;
  world: SemanticWorld;
  expectedIndex: 'pgvector' | 'usearch' | (() => Promise<'pgvector' | 'usearch'>);
  deps?: Partial<SemanticCacheDeps>;
}

export function semanticSuite(o: SuiteOptions): void {
  describe(o.name, () => {
    const w = o.world;
    let cache: SemanticCache;
    const settings = { embeddingModel: null as string | null, similarityThreshold: 0.95 };
    const ctx = 'ctx-1';
    // set once the world has started
    let gw: TestGateway, mock: OpenAIMock, principal: Principal, scope: string, embeddingModel: string, chatModel: string, keySecret: string;

    beforeAll(async () => {
      ({ gw, mock, principal, scope, embeddingModel, chatModel, keySecret } = w);
      const { database, gateway } = gw.app.services;
      cache = await createSemanticCache({
        db: database.db,
        embed: embedThroughGateway(gateway),
        settings: async () => ({ ...settings }),
        log: pino({ level: 'silent' }),
        ...o.deps,
      });
    });

    beforeEach(async () => {
      settings.embeddingModel = embeddingModel;
      await cache.purge({});
    });

    const lookup = (text: string, over: { scope?: string; contextHash?: string } = {}) =>
      cache.lookup({ scope: over.scope ?? scope, contextHash: over.contextHash ?? ctx, text, principal, requestId: 'req-1' });

    async function remember(text: string, content: string, over: { scope?: string; contextHash?: string; ttlSeconds?: number; model?: string } = {}) {
      const { vector } = await lookup(text, over);
      await cache.store({ scope: over.scope ?? scope, contextHash: over.contextHash ?? ctx, vector, entry: answer(over.model ?? chatModel, content), ttlSeconds: over.ttlSeconds ?? 60 });
    }

    it('uses the expected vector index', async () => {
      const expected = typeof o.expectedIndex === 'function' ? await o.expectedIndex() : o.expectedIndex;
      expect(cache.index).toBe(expected);
    });

    it('a close paraphrase hits with its similarity; a neighbour under the threshold and a far prompt miss', async () => {
      expect((await lookup(CAPITAL)).hit).toBeNull();
      await remember(CAPITAL, 'Paris.');

      const hit = (await lookup(PARAPHRASE)).hit;
      expect(hit?.entry.response.content).toBe('Paris.');
      expect(hit?.entry.model).toBe(chatModel);
      expect(hit?.similarity).toBeCloseTo(PARAPHRASE_SIMILARITY, 4);
      expect((await lookup(CAPITAL)).hit?.similarity).toBeCloseTo(1, 5);

      expect((await lookup(NEIGHBOUR)).hit).toBeNull();
      expect((await lookup(FAR)).hit).toBeNull();
    });

    it('embeds on the caller key through the gateway, recorded, though the key may not ask for that model', async () => {
      const direct = await gw.gql('mutation($input: EmbedInput!) { embed(input: $input) { model } }', { input: { model: embeddingModel, input: ['x'] } }, keySecret);
      expect(direct.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

      const before = mock.embeddingRequests().length;
      const { vector } = await lookup(PARAPHRASE);
      expect(vector).toEqual(VECTORS[PARAPHRASE]);
      expect(mock.embeddingRequests().slice(before).map((r) => r.body)).toEqual([{ model: 'text-embedding-3-small', input: [PARAPHRASE] }]);
      const records = (await usageOf(gw, embeddingModel)).filter((r) => r.status === 'OK');
      expect(records.length).toBeGreaterThan(0);
      expect(records[0].metadata).toEqual({ purpose: 'semantic-cache' });
    });

    it('another scope or another context misses', async () => {
      await remember(CAPITAL, 'Paris.');
      expect((await lookup(PARAPHRASE)).hit).not.toBeNull();
      expect((await lookup(PARAPHRASE, { scope: 'global' })).hit).toBeNull();
      expect((await lookup(PARAPHRASE, { contextHash: 'ctx-2' })).hit).toBeNull();
    });

    it('an entry expires after its ttl', async () => {
      // a fraction of a second keeps the test short; the step passes whole seconds
      await remember(CAPITAL, 'Paris.', { ttlSeconds: 0.3 });
      expect((await lookup(PARAPHRASE)).hit).not.toBeNull();
      await new Promise((r) => setTimeout(r, 350));
      expect((await lookup(PARAPHRASE)).hit).toBeNull();
    });

    it('purges by scope, by model, and everything', async () => {
      await remember(CAPITAL, 'Paris.');
      await remember(CAPITAL, 'Paris (global).', { scope: 'global' });
      await remember(FAR, 'Knead it.', { model: 'other-model' });

      expect(await cache.purge({ scope: 'global' })).toBe(1);
      expect((await lookup(PARAPHRASE, { scope: 'global' })).hit).toBeNull();
      expect((await lookup(PARAPHRASE)).hit?.entry.response.content).toBe('Paris.');

      expect(await cache.purge({ model: 'other-model' })).toBe(1);
      expect((await lookup(FAR)).hit).toBeNull();
      expect((await lookup(PARAPHRASE)).hit).not.toBeNull();

      expect(await cache.purge({ scope, model: chatModel })).toBe(1);
      expect((await lookup(PARAPHRASE)).hit).toBeNull();

      await remember(CAPITAL, 'Paris.');
      expect(await cache.purge({})).toBe(1);
    });

    it('without an embedding model nothing is embedded or kept', async () => {
      settings.embeddingModel = null;
      const before = mock.embeddingRequests().length;
      const looked = await lookup(CAPITAL);
      expect(looked).toEqual({ vector: [], hit: null });
      await cache.store({ scope, contextHash: ctx, vector: looked.vector, entry: answer(chatModel, 'Paris.'), ttlSeconds: 60 });
      settings.embeddingModel = embeddingModel;
      expect((await lookup(CAPITAL)).hit).toBeNull();
      expect(mock.embeddingRequests().length).toBe(before + 1);
    });

    it('a failing embedding is a miss, not an error', async () => {
      mock.replyOnce({ status: 400 });
      await expect(lookup(CAPITAL)).resolves.toEqual({ vector: [], hit: null });
    });
  });
}

