/*
 * The gateway under benchmark, in its own process, as `npm start` runs it: the compiled build in dist/<hash>/ (the bench
 * runs `npm run build` first) under plain node; GATEWAY_BUILD=source imports src/ instead (start it with
 * --import tsx). createApp with an in-memory database (or DATA_DIR when
 * BENCH_DATABASE=embedded), LOG_LEVEL=warn, listening on 127.0.0.1 (PORT, default 0 = any free port).
 * Providers, models and keys are created by the bench through the GraphQL API, like a real deployment.
 *
 * Prints one JSON line {"ready":true,"url":…,"pid":…} on stdout when listening. SIGTERM/SIGINT stop it
 * gracefully and exit, so `--cpu-prof` gets to write its profile. With an IPC channel, answers {type:"mem"}
 * messages with process.memoryUsage() (after a full GC when asked and started with --expose-gc), and
 * {type:"sql",id,text} with the statement's rows ({type:"sql",id,rows} or {…,error}).
 * GATEWAY_ROOT=<dir> runs the build of another checkout (its dist/current) instead of this one's.
 * BENCH_ALLOC_PROFILE=<file>: samples every allocation, garbage included (V8's sampling heap profiler with the
 * collected objects kept), and writes a .heapprofile there on stop: what the young-generation GC is busy with.
 * BENCH_GC_STATS=<file>: count and pause time of each kind of GC (perf_hooks), written as JSON on stop.
 */
import { pathToFileURL } from 'node:url';

// GATEWAY_ROOT: another checkout to run (bench/base-build.ts: the base ref of a before/after run); default this one
const checkout = process.env.GATEWAY_ROOT ? pathToFileURL(`${process.env.GATEWAY_ROOT}/`).href : new URL('..', import.meta.url).href;
// the build `npm run build` made current (scripts/dist-pointer.mjs)
const root = process.env.GATEWAY_BUILD === 'source' ? `${checkout}src` : `${checkout}dist/${(await import(`${checkout}scripts/dist-pointer.mjs`)).readPointer()}/src`;
const { createApp } = await import(`${root}/app.js`);
const { loadConfig } = await import(`${root}/config.js`);

const env = {
  ...process.env,
  DATABASE_URL: process.env.BENCH_DATABASE === 'embedded' ? undefined : (process.env.DATABASE_URL ?? 'memory://'),
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  HOST: '127.0.0.1',
  PORT: process.env.PORT ?? '0',
};
const config = loadConfig(env);

let writeAllocProfile = async () => {};
if (process.env.BENCH_GC_STATS) {
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  const { writeFileSync } = await import('node:fs');
  const names = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
  const stats = {};
  const started = performance.now();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = names[e.detail?.kind] ?? String(e.detail?.kind);
      const s = (stats[k] ??= { count: 0, ms: 0, maxMs: 0 });
      s.count++;
      s.ms += e.duration;
      s.maxMs = Math.max(s.maxMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => writeFileSync(process.env.BENCH_GC_STATS, JSON.stringify({ seconds: (performance.now() - started) / 1000, ...stats }, null, 1)));
}
if (process.env.BENCH_ALLOC_PROFILE) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  writeAllocProfile = async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(process.env.BENCH_ALLOC_PROFILE, JSON.stringify(profile));
  };
}
const app = await createApp(config);
const url = await app.start(config.http.port, config.http.host);
process.stdout.write(`${JSON.stringify({ ready: true, url, pid: process.pid })}\n`);

// the bench reads rows of this gateway's database over the IPC channel, and sets a column no API sets yet
process.on('message', (msg) => {
  if (msg?.type !== 'sql' || !process.send) return;
  import('drizzle-orm')
    .then(({ sql }) => app.services.database.db.execute(sql.raw(msg.text)))
    .then(
      (r) => process.send({ type: 'sql', id: msg.id, rows: Array.isArray(r) ? [...r] : r.rows }),
      (err) => process.send({ type: 'sql', id: msg.id, error: String(err?.message ?? err) }),
    );
});

// the bench asks for memory figures over the IPC channel (optionally after a full GC: node --expose-gc)
process.on('message', (msg) => {
  if (msg?.type !== 'mem' || !process.send) return;
  const gc = globalThis.gc;
  if (msg.gc && gc) gc();
  process.send({ type: 'mem', gc: Boolean(msg.gc && gc), ...process.memoryUsage() });
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  app.stop(2000).then(writeAllocProfile).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
