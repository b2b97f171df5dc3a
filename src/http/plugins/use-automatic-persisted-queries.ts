/*
 * Apollo's automatic persisted queries (@graphql-yoga/plugin-apq): a client sends the SHA-256 of its document in
 * `extensions.persistedQuery`, and the text only when the gateway answers PersistedQueryNotFound. Over GET too.
 */
import { useAPQ, type APQStore } from '@graphql-yoga/plugin-apq';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/**
 * What the store holds at most, least recently used first out. The plugin's own store bounds the number of
 * documents but not their size, and a document is stored before it is parsed, so one client could fill it with
 * megabytes each. Characters, not bytes: a JavaScript string takes one or two bytes a character.
 */
export const APQ_STORE_LIMITS = { documents: 1000, characters: 4 * 1024 * 1024 } as const;

function boundedStore(): APQStore {
  const cache = new LRUCache<string, string>({
    max: APQ_STORE_LIMITS.documents,
    maxSize: APQ_STORE_LIMITS.characters,
    // lru-cache refuses a size of 0; a larger document than the whole store is simply not kept
    sizeCalculation: (query) => query.length || 1,
  });
  return {
    get: (hash) => cache.get(hash),
    set: (hash, query) => cache.set(hash, query),
  };
}

/**
 * An unknown hash answers `PersistedQueryNotFound` (code PERSISTED_QUERY_NOT_FOUND, HTTP 404), which Apollo's
 * link and urql's exchange take as "send the text"; a text whose SHA-256 is not the hash sent with it is
 * refused with `PersistedQueryMismatch` (PERSISTED_QUERY_MISMATCH, 400) and not stored.
 */
export function useAutomaticPersistedQueries(): Plugin {
  return useAPQ({ store: boundedStore() });
}
