/* Vectors in the database with pgvector: shared by every instance, bounded by the disk rather than by memory. */
import { type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import type { CachedAnswer } from '../types.js';
import type { Partition, StoredVector, VectorStore } from './vector-store.js';

/**
 * Created here, not in a migration: it needs the `vector` extension, which a PostgreSQL server may not have.
 * The embedding column has no fixed dimension because the operator may change the embedding model; the search is
 * an exact scan of one partition (found by the btree index), so no HNSW index (which needs a dimension) is made.
 */
const DDL = [
  sql`create table if not exists semantic_cache_entries (
    id bigint generated always as identity primary key,
    scope text not null,
    context_hash text not null,
    embedding_model text not null,
    model text not null,
    embedding vector not null,
    entry jsonb not null,
    expires_at timestamptz not null
  )`,
  // with the id, so trimming a partition to its newest rows walks this index alone
  sql`drop index if exists semantic_cache_entries_partition`,
  sql`create index if not exists semantic_cache_entries_partition_id on semantic_cache_entries (scope, context_hash, embedding_model, id)`,
  sql`create index if not exists semantic_cache_entries_expires_at on semantic_cache_entries (expires_at)`,
];

// any fixed 64-bit number; only this set-up takes it
const SETUP_LOCK = 7_316_042_223;

/** True when the database has pgvector (or could create it) and now has the table. */
export async function preparePgvector(db: Db): Promise<boolean> {
  const available = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from pg_available_extensions where name = 'vector'`));
  if (!available[0]?.n) return false;
  // instances starting together: `if not exists` alone still lets two creations of the same object collide
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SETUP_LOCK})`);
    await tx.execute(sql`create extension if not exists vector`);
    for (const statement of DDL) await tx.execute(statement);
  });
  return true;
}

const vectorLiteral = (v: number[]) => JSON.stringify(v);

/**
 * `maxPerPartition`: rows kept per (scope, context, embedding model) partition, the oldest deleted beyond it on each
 * store. The disk bounds the table as a whole, but one partition that keeps growing (one key asking many variants of
 * a question in one context) would make each of its lookups, an exact scan, slower and slower.
 */
export function createPgvectorStore(db: Db, opts: { maxPerPartition: number } = { maxPerPartition: 10_000 }): VectorStore {
  const count = async (q: SQL) => rowsOf<{ n: number }>(await db.execute(q))[0]?.n ?? 0;
  return {
    kind: 'pgvector',
    async nearest(p: Partition, vector: number[]) {
      const v = vectorLiteral(vector);
      const rows = rowsOf<{ entry: CachedAnswer | string; similarity: number }>(
        await db.execute(sql`
          select entry, 1 - (embedding <=> ${v}::vector) as similarity
          from semantic_cache_entries
          where scope = ${p.scope} and context_hash = ${p.contextHash} and embedding_model = ${p.embeddingModel}
            and expires_at > now() and vector_dims(embedding) = ${vector.length}
          order by embedding <=> ${v}::vector
          limit 1`),
      );
      const row = rows[0];
      // a zero vector has no direction: its distance is NaN, never a hit
      if (!row || !Number.isFinite(Number(row.similarity))) return null;
      const entry = typeof row.entry === 'string' ? (JSON.parse(row.entry) as CachedAnswer) : row.entry;
      return { entry, similarity: Number(row.similarity) };
    },
    async add(s: StoredVector) {
      await db.execute(sql`
        insert into semantic_cache_entries (scope, context_hash, embedding_model, model, embedding, entry, expires_at)
        values (${s.scope}, ${s.contextHash}, ${s.embeddingModel}, ${s.entry.model}, ${vectorLiteral(s.vector)}::vector,
                ${JSON.stringify(s.entry)}::jsonb, ${new Date(s.expiresAt).toISOString()}::timestamptz)`);
      await db.execute(sql`
        delete from semantic_cache_entries where id in (
          select id from semantic_cache_entries
          where scope = ${s.scope} and context_hash = ${s.contextHash} and embedding_model = ${s.embeddingModel}
          order by id desc
          offset ${opts.maxPerPartition})`);
    },
    purge(f) {
      const where: SQL[] = [];
      if (f.scope !== undefined) where.push(sql`scope = ${f.scope}`);
      if (f.model !== undefined) where.push(sql`model = ${f.model}`);
      const filter = where.length ? sql`where ${sql.join(where, sql` and `)}` : sql``;
      return count(sql`with gone as (delete from semantic_cache_entries ${filter} returning 1) select count(*)::int as n from gone`);
    },
    purgeExpired() {
      return count(sql`with gone as (delete from semantic_cache_entries where expires_at <= now() returning 1) select count(*)::int as n from gone`);
    },
  };
}
