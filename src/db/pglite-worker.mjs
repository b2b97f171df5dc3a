/*
 * Embedded PGlite in its own thread. PGlite is Postgres compiled to WebAssembly and runs every statement
 * synchronously on the thread that owns it; on the event loop, a batch of usage records or one summary over
 * a month of usage would stall every request and stream for as long as it runs.
 *
 * Plain JavaScript so that it starts the same under node, tsx and vitest without a TypeScript loader in the
 * worker. The other side is `pglite-remote.ts`; workerData: {dataDir?, settings?: ['name=value', …]}; messages:
 *   → {id, op: 'query', sql, params, rowMode, tx?}   ← {id, result}
 *   → {id, op: 'exec', sql, tx?}                      ← {id, result}
 *   → {id, op: 'copy', sql, data: Uint8Array}         ← {id, result: {affectedRows}}  (COPY … FROM '/dev/blob')
 *   → {id, op: 'begin'}                               ← {id, result: txId} once the transaction holds PGlite
 *   → {id, op: 'commit' | 'rollback', tx}             ← {id, result: null} once it is over
 *   → {id, op: 'close'}                               ← {id, result: null}
 *   any failure                                       ← {id, error: {message, ...fields of the database error}}
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, types } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

// what drizzle's PGlite session asks for: dates and intervals stay the strings Postgres sends
const parsers = {
  [types.TIMESTAMP]: (v) => v,
  [types.TIMESTAMPTZ]: (v) => v,
  [types.INTERVAL]: (v) => v,
  [types.DATE]: (v) => v,
};

/** txId → {tx, end(commit: boolean)} for the transactions the main thread holds open */
const open = new Map();
let nextTx = 1;

function errorOf(err) {
  const out = { message: err instanceof Error ? err.message : String(err) };
  if (err && typeof err === 'object') {
    for (const k of ['code', 'severity', 'detail', 'hint', 'schema', 'table', 'column', 'constraint', 'position', 'where', 'routine']) {
      if (err[k] !== undefined) out[k] = err[k];
    }
  }
  return out;
}

function target(m) {
  if (m.tx === undefined) return pg;
  const t = open.get(m.tx);
  if (!t) throw new Error(`transaction ${m.tx} is not open`);
  return t.tx;
}

const reply = (id, result) => parentPort.postMessage({ id, result });
const fail = (id, err) => parentPort.postMessage({ id, error: errorOf(err) });

let pg;
try {
  pg = new PGlite({
    dataDir: workerData.dataDir ?? undefined,
    // pgvector ships with the embedded database so the semantic cache keeps its vectors there (it creates the extension)
    extensions: { vector },
    // `-c name=value` after PGlite's own parameters: they win over postgresql.conf and leave the data directory as it is
    startParams: [...PGlite.defaultStartParams, ...(workerData.settings ?? []).flatMap((s) => ['-c', s])],
  });
  await pg.waitReady;
} catch (err) {
  parentPort.postMessage({ id: 0, error: errorOf(err) });
  process.exit(1);
}

parentPort.on('message', async (m) => {
  try {
    switch (m.op) {
      case 'query': {
        const r = await target(m).query(m.sql, m.params, { rowMode: m.rowMode, parsers });
        // only what drizzle reads; `blob` and the like stay here
        return reply(m.id, { rows: r.rows, fields: r.fields, affectedRows: r.affectedRows });
      }
      case 'copy': {
        // COPY's text format: PGlite reads it from the blob without JSON or parameter decoding in WebAssembly
        const r = await pg.query(m.sql, [], { blob: new Blob([m.data]) });
        return reply(m.id, { affectedRows: r.affectedRows });
      }
      case 'exec': {
        const rs = await target(m).exec(m.sql);
        return reply(m.id, rs.map((r) => ({ rows: r.rows, fields: r.fields, affectedRows: r.affectedRows })));
      }
      case 'begin': {
        const txId = nextTx++;
        let end;
        const ended = new Promise((resolve, reject) => (end = (commit) => (commit ? resolve() : reject(new Error('rollback')))));
        // PGlite's transaction() holds the database: plain queries wait until it is over, as on one connection
        let started = false;
        pg.transaction(async (tx) => {
          started = true;
          open.set(txId, { tx, end });
          reply(m.id, txId);
          await ended;
        }).then(
          () => settle(txId, null),
          // a transaction that could not even begin answers the begin
          (err) => (started ? settle(txId, err) : fail(m.id, err)),
        );
        return;
      }
      case 'commit':
      case 'rollback': {
        const t = open.get(m.tx);
        if (!t) throw new Error(`transaction ${m.tx} is not open`);
        t.replyTo = m.id;
        t.commit = m.op === 'commit';
        t.end(t.commit);
        return;
      }
      case 'close':
        await pg.close();
        return reply(m.id, null);
      default:
        throw new Error(`unknown operation ${m.op}`);
    }
  } catch (err) {
    fail(m.id, err);
  }
});

function settle(txId, err) {
  const t = open.get(txId);
  open.delete(txId);
  if (!t || t.replyTo === undefined) return;
  // a rollback asked for is a success; a commit that failed is the caller's error
  if (err && t.commit) fail(t.replyTo, err);
  else reply(t.replyTo, null);
}

parentPort.postMessage({ id: 0, result: 'ready' });
