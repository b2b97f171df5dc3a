/* createSemanticCache: the semantic half of the response cache, on pgvector where the database has it, else usearch. */
import type { Logger } from 'pino';
import type { Db } from '../../db/client.js';
import type { Principal } from '../../services/keys.js';
import type { RequestTrace } from '../../telemetry/request-trace.js';
import type { SemanticCache } from '../types.js';
import { createPgvectorStore, preparePgvector } from './pgvector-store.js';
import type { VectorStore } from './vector-store.js';

export { embedThroughGateway } from './embed-through-gateway.js';

/** Embeds texts with the given model on the caller's key (through the gateway, so the call is recorded and limited). */
export type Embed = (q: { model: string; texts: string[]; principal: Principal; trace?: RequestTrace }) => Promise<number[][]>;

/** The operator's cache settings (the cache_settings row); read on every lookup, so the reader should cache briefly. */
type SemanticSettings = () => Promise<{ embeddingModel: string | null; similarityThreshold: number }>;

export interface SemanticCacheDeps {
  db: Db;
  embed: Embed;
  settings: SemanticSettings;
  log: Logger;
  /** Bound of the in-process index in entries (used only when the database has no pgvector). @default 10 000 */
  maxEntries?: number;
  /** Bound of the in-process index in bytes of stored answers and vectors (CACHE_SEMANTIC_MAX_BYTES). @default 64 MiB */
  maxBytes?: number;
  /** Rows kept per (scope, context, embedding model) partition in pgvector, the oldest deleted beyond. @default 10 000 */
  maxPerPartition?: number;
  /** 'usearch' keeps vectors in this process even when the database has pgvector. @default 'auto' */
  index?: 'auto' | 'usearch';
}

/** Expired rows go at most this often, after a store: nothing runs while the cache is idle. */
const PURGE_EXPIRED_EVERY_MS = 60_000;

async function chooseStore(deps: SemanticCacheDeps): Promise<VectorStore> {
  try {
    if (deps.index !== 'usearch' && (await preparePgvector(deps.db))) return createPgvectorStore(deps.db, { maxPerPartition: deps.maxPerPartition ?? 10_000 });
  } catch (err) {
    // listed but not creatable (no privilege): the in-process index still serves
    deps.log.warn({ err }, 'semantic cache: pgvector could not be set up; using the in-process index');
  }
  // imported only here: usearch is a native addon, loaded for nothing where pgvector serves
  const { createUsearchStore } = await import('./usearch-store.js');
  return createUsearchStore({ maxEntries: deps.maxEntries ?? 10_000, maxBytes: deps.maxBytes ?? 64 * 1024 * 1024 });
}

export async function createSemanticCache(deps: SemanticCacheDeps): Promise<SemanticCache> {
  const store = await chooseStore(deps);
  const { embed, settings, log } = deps;
  log.info({ index: store.kind }, 'semantic cache ready');
  // which model made a vector lookup() returned, so store() files it under that model even if the setting changed since
  const madeBy = new WeakMap<number[], string>();
  let lastPurge = Date.now();

  function purgeExpiredNowAndThen(): void {
    if (Date.now() - lastPurge < PURGE_EXPIRED_EVERY_MS) return;
    lastPurge = Date.now();
    store.purgeExpired().catch((err: unknown) => log.warn({ err }, 'semantic cache: purging expired entries failed'));
  }

  return {
    index: store.kind,
    async lookup({ scope, contextHash, text, principal, requestId, trace }) {
      // an empty vector tells store() there is nothing to keep
      const miss = { vector: [], hit: null };
      const { embeddingModel, similarityThreshold } = await settings();
      // no embedding model set: the semantic half is off
      if (!embeddingModel) return miss;
      try {
        const [vector] = await embed({ model: embeddingModel, texts: [text], principal, trace });
        if (!vector?.length) return miss;
        madeBy.set(vector, embeddingModel);
        const near = await store.nearest({ scope, contextHash, embeddingModel }, vector);
        if (!near || near.similarity < similarityThreshold) return { vector, hit: null };
        // float rounding may put an identical prompt a hair above 1
        return { vector, hit: { entry: near.entry, similarity: Math.min(1, near.similarity) } };
      } catch (err) {
        // the call can still be answered by the upstream: a cache that cannot look is a miss (the embedding's own
        // failure is on its usage record)
        log.warn({ err, requestId }, 'semantic cache: lookup failed; treating it as a miss');
        return miss;
      }
    },
    async store({ scope, contextHash, vector, entry, ttlSeconds }) {
      if (vector.length === 0 || ttlSeconds <= 0) return;
      const embeddingModel = madeBy.get(vector) ?? (await settings()).embeddingModel;
      if (!embeddingModel) return;
      await store.add({ scope, contextHash, embeddingModel, vector, entry, expiresAt: Date.now() + ttlSeconds * 1000 });
      purgeExpiredNowAndThen();
    },
    purge: (f) => store.purge(f),
  };
}
