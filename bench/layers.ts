/*
 * npm run bench:layers [-- options]: what the response cache, the guardrails, the limits, the call log and tracing cost
 * (and save), and a build against an earlier one (--sections=baseline). Not a timed test.
 *
 * Processes as in `npm run bench` (bench/run.ts): the mock upstream, the thin proxy in front of it, and the gateway as
 * `npm start` runs it (the dist/ build, in-memory database), each in its own process; autocannon in this one.
 *
 * Cache: /v1/chat/completions with the same body over and over, at each --concurrency, for
 *   - thin proxy → mock (the direct call any proxy costs at least; the mock answers at once, --mock-delay-ms=0)
 *   - gateway, cache off (every call goes upstream)
 *   - gateway, `x-gateway-cache: exact` (every call after the first is a hit)
 * and, with --mock-delay-ms (default 200) on a second mock model, the latency a hit saves on a slow upstream.
 *
 * Guardrails: the same call with a --prompt-kb prompt that holds personal data, from a key without a policy and from
 * a key with one (every PII kind REDACTed, a 20-word deny list and 5 patterns on input and output); and in this
 * process, the guardrail engine alone on 1, 16 and 256 KB of text: microseconds per KB.
 *
 * Limits: the same call from a key with its own limits only, and from a key of a team with team and end-user limits
 * too (`user` set): four subjects checked and reserved in one step instead of one.
 *
 * Call log (--sections=calllog): the same call from keys whose logBodies is unset (NONE), METADATA and FULL, in
 * paired rounds (bench/paired-variants.ts), at each --concurrency; then NONE against FULL with the --prompt-kb prompt
 * at the highest concurrency; then the call_logs rows each key got, read from the gateway's database.
 *
 * Tracing (--sections=tracing): the same call on the gateway above (no OTEL_* variable: tracing off), on it with the
 * caller's `traceparent` (passed upstream unchanged), and on a second gateway process started with
 * OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver in this process (bench/otlp-sink.ts), in paired
 * rounds; then the spans received per answered call, spans/s and the spans' names.
 *
 * Spool (--sections=spool): the same call on the gateway above (in-memory database: no usage spool) and on a second
 * gateway process alike but for USAGE_SPOOL_DIR (a temporary folder: each record appended to a segment file, an
 * fdatasync every 5 ms), in paired rounds at each --concurrency; then both with a FULL call log of the --prompt-kb
 * prompt (the spool writes the log into the record's line) at the highest concurrency.
 *
 * Before/after (--sections=baseline --base-ref=<ref>): the gateway built from <ref> in a temporary git worktree
 * (bench/base-build.ts) and the working tree's, each in a fresh process with tracing off and the call log NONE;
 * GraphQL `chat` and /v1/chat/completions on both in --base-rounds paired rounds at each --base-concurrency: the
 * ratio new/base per round and its median.
 *
 * Node flags (--sections=flags): the gateway in one fresh process per set of V8 flags (the three `npm start` had, none,
 * each alone; --flags-database=postgres://…/name for empty databases name_0 … name_4, one per process, else in memory): its RSS idle after
 * start, then GraphQL `chat` and /v1/chat/completions in --base-rounds paired rounds at each --base-concurrency
 * (throughput, CPU a call and peak RSS per variant), then its RSS once the load has stopped.
 *
 * Options: --duration=5 --warmup=1 --concurrency=1,10,50 --prompt-kb=4 --mock-delay-ms=200 --rounds=3 (the median
 * of the rounds stands) --sections=cache,guardrails,limits (also: calllog, tracing, spool, baseline) --base-ref=<ref>
 * --base-rounds=5 --base-concurrency=10 --prewarm=5 (seconds of unmeasured load on each variant of calllog, tracing and
 * baseline before their first paired round)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { prepareBaseBuild } from './base-build.js';
import { startOtlpSink } from './otlp-sink.js';
import { formatPaired, pairedRounds, type Variant, type VariantResult } from './paired-variants.js';
import { rssMb } from './proc-stats.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const argv = process.argv.slice(2);
const opt = (name: string, def: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const DURATION = Number(opt('duration', '5'));
const WARMUP = Number(opt('warmup', '1'));
const CONCURRENCY = opt('concurrency', '1,10,50').split(',').map(Number);
const PROMPT_KB = Number(opt('prompt-kb', '4'));
const MOCK_DELAY_MS = Number(opt('mock-delay-ms', '200'));
const ROUNDS = Number(opt('rounds', '3'));
const SECTIONS = new Set(opt('sections', 'cache,guardrails,limits').split(','));
const PREWARM = Number(opt('prewarm', '5'));
const BASE_REF = opt('base-ref', '');
const BASE_ROUNDS = Number(opt('base-rounds', '5'));
const BASE_CONCURRENCY = opt('base-concurrency', '10').split(',').map(Number);
/** the sections that load the shared gateway (baseline starts gateways of its own) */
const FLAGS_DATABASE = opt('flags-database', '');
/** The three V8 flags `npm start` gave the gateway (package.json has dropped source maps since), and each alone */
const FLAG_VARIANTS: Array<[string, string[]]> = [
  ['all three flags', ['--max-semi-space-size=64', '--no-allocation-site-pretenuring', '--enable-source-maps']],
  ['no flags', []],
  ['semi-space 64 only', ['--max-semi-space-size=64']],
  ['no pretenuring only', ['--no-allocation-site-pretenuring']],
  ['source maps only', ['--enable-source-maps']],
];
const SHARED_GATEWAY_SECTIONS = ['cache', 'guardrails', 'limits', 'calllog', 'tracing', 'spool'];
const ADMIN_KEY = `gw_bench_admin_${Math.random().toString(36).slice(2)}_0123456789`;
const log = (m: string) => process.stderr.write(`[layers ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

const children: ChildProcess[] = [];
const started = new Map<string, ChildProcess>();
const atExit: (() => void)[] = [];
process.on('exit', () => {
  children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
  atExit.forEach((f) => f());
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

/** This process's environment without the OpenTelemetry variables: a gateway traces only when a section says so. */
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));

/** A node process that prints one JSON line with ready:true when it listens. */
function start(name: string, args: string[], env: Record<string, string>, opts: { cwd?: string; ipc?: boolean } = {}): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc ? (['ipc'] as const) : [])],
  });
  children.push(child);
  started.set(name, child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + String(d)).slice(-3000)));
  return new Promise((res, rej) => {
    child.once('exit', (code) => rej(new Error(`${name} exited (${code}):\n${err}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const j = JSON.parse(line) as Record<string, unknown>;
        if (j.ready) res(j);
      } catch {
        /* not our line */
      }
    });
  });
}

async function gql<T>(url: string, key: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const j = (await r.json()) as { data?: T; errors?: unknown[] };
  if (!j.data || j.errors?.length) throw new Error(`GraphQL failed: ${JSON.stringify(j.errors ?? j).slice(0, 500)}`);
  return j.data;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

function cannon(url: string, headers: Record<string, string>, body: string, connections: number, duration: number): Promise<Run> {
  const u = new URL(url);
  return new Promise((res, rej) =>
    autocannon(
      { url: `${u.protocol}//${u.host}`, connections, duration, timeout: 20, requests: [{ method: 'POST', path: u.pathname, headers, body }] },
      (err: unknown, r: autocannon.Result) =>
        err ? rej(err) : res({ rps: r['2xx'] / r.duration, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx }),
    ),
  );
}

async function measure(url: string, headers: Record<string, string>, body: string, connections: number): Promise<Run> {
  const runs: Run[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await cannon(url, headers, body, connections, WARMUP);
    runs.push(await cannon(url, headers, body, connections, DURATION));
  }
  runs.sort((a, b) => a.rps - b.rps);
  return runs[Math.floor(runs.length / 2)]!;
}

/** About `kb` KB of ordinary text with one of each kind of personal data in every KB. */
function promptWithPii(kb: number): string {
  const para =
    'Please summarise the customer note below for the support queue, keeping the tone neutral and the facts intact. ' +
    'Customer Jane wrote from jane.doe@example.com and asked us to call her back on +44 20 7946 0958 tomorrow. ' +
    'She paid with card 4111 1111 1111 1111 and her refund goes to GB82 WEST 1234 5698 7654 32. ' +
    'Her social security number 123-45-6789 was on the form by mistake; the request came from 203.0.113.7. ';
  let out = '';
  while (out.length < kb * 1024) out += para;
  return out.slice(0, kb * 1024);
}

const POLICY_RULES = {
  pii: { kinds: ['EMAIL', 'PHONE', 'CREDIT_CARD', 'IBAN', 'NATIONAL_ID', 'IP_ADDRESS', 'SECRET'], action: 'REDACT', restore: true },
  denyList: {
    words: ['confidential', 'internal-only', 'project-x', 'darkweb', 'exploit', 'malware', 'ransomware', 'phishing', 'botnet', 'keylogger',
      'rootkit', 'trojan', 'spyware', 'backdoor', 'zero-day', 'payload', 'shellcode', 'cryptojack', 'skimmer', 'carding'],
    patterns: ['(?i)secret\\s+plan', 'acct-[0-9]{6}', '(?i)do not (share|forward)', '\\bTOP\\s?SECRET\\b', 'ticket#[0-9]{4,}'],
    action: 'BLOCK',
  },
};

const fmt = (r: Run) => `${r.rps.toFixed(0).padStart(7)} req/s  p50 ${String(r.p50).padStart(4)} ms  p99 ${String(r.p99).padStart(4)} ms${r.non2xx ? `  non-2xx ${r.non2xx}` : ''}`;

const GATEWAY_ENV = {
  GATEWAY_ADMIN_KEY: ADMIN_KEY,
  GATEWAY_SECRET: 'bench-secret-bench-secret-0123456789',
  LOG_LEVEL: 'warn',
  DATABASE_URL: 'memory://',
};
const LIMITS = { requestsPerMinute: 10_000_000, tokensPerMinute: 2_000_000_000 };
const json = { 'content-type': 'application/json' };
const auth = (key: string, cache?: string) => ({ ...json, authorization: `Bearer ${key}`, ...(cache ? { 'x-gateway-cache': cache } : {}) });
const body = (model: string, content: string, stream = false) => JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: 16, stream });
const hasChoices = (b: string) => b.includes('"choices"');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Gateway {
  url: string;
  pid: number;
  child: ChildProcess;
}

/** A gateway process (bench/gateway-server.mjs, in-memory database) with the mock provider and the bench models, set up through the API. */
async function startGateway(name: string, mockUrl: string, env: Record<string, string> = {}, cwd?: string, nodeFlags: string[] = []): Promise<Gateway> {
  const info = await start(name, [...nodeFlags, join(ROOT, 'bench/gateway-server.mjs')], { ...GATEWAY_ENV, ...env }, { cwd, ipc: true });
  const url = info.url as string;
  await gql(url, ADMIN_KEY, `mutation($i: CreateProviderInput!) { createProvider(input: $i) { name } }`, {
    i: { name: 'mock', kind: 'OPENAI_COMPATIBLE', baseUrl: `${mockUrl}/v1`, apiKey: 'sk-mock' },
  });
  for (const [model, upstreamModel] of [['bench', 'mock'], ['bench-slow', `mock-delay-${MOCK_DELAY_MS}`]] as const) {
    await gql(url, ADMIN_KEY, `mutation($i: CreateModelInput!) { createModel(input: $i) { name } }`, {
      i: { name: model, targets: [{ provider: 'mock', upstreamModel }], inputPricePerMTok: 0.15, outputPricePerMTok: 0.6 },
    });
  }
  return { url, pid: info.pid as number, child: started.get(name)! };
}

async function newKey(gwUrl: string, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await gql<{ createApiKey: { secret: string } }>(gwUrl, ADMIN_KEY, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, {
    i: { name, scopes: ['INVOKE'], limits: LIMITS, ...extra },
  });
  return r.createApiKey.secret;
}

/** Rows of a gateway's database, over bench/gateway-server.mjs's IPC channel. */
function sqlRows<T>(gw: Gateway, text: string): Promise<T[]> {
  const id = Math.random().toString(36).slice(2);
  return new Promise((res, rej) => {
    const onMessage = (m: { type?: string; id?: string; rows?: T[]; error?: string }) => {
      if (m?.type !== 'sql' || m.id !== id) return;
      gw.child.off('message', onMessage);
      if (m.error) rej(new Error(m.error));
      else res(m.rows ?? []);
    };
    gw.child.on('message', onMessage);
    gw.child.send({ type: 'sql', id, text });
  });
}

/** A key whose call log level is `level`: createApiKey's logBodies, or on a build without it an UPDATE before its first use. */
async function keyWithLevel(gw: Gateway, name: string, level: 'METADATA' | 'FULL'): Promise<{ secret: string; how: string }> {
  try {
    return { secret: await newKey(gw.url, name, { logBodies: level }), how: 'createApiKey(input: {logBodies})' };
  } catch (e) {
    if (!String(e).includes('logBodies')) throw e;
  }
  const secret = await newKey(gw.url, name);
  await sqlRows(gw, `update api_keys set log_bodies = '${level}' where name = '${name}'`);
  return { secret, how: 'an UPDATE of api_keys.log_bodies (this build has no logBodies in CreateApiKeyInput)' };
}

type Out = (line: string) => void;
const load = () => `load average ${loadavg()[0]!.toFixed(1)}`;
/** paired-round options; the first concurrency of a section pre-warms its variants (fresh gateway processes) */
const rounds = (r: number, first: boolean) => ({ rounds: r, durationS: DURATION, warmupS: WARMUP, prewarmS: first ? PREWARM : 0 });

async function calllogSection(gw: Gateway, out: Out): Promise<void> {
  const none = await newKey(gw.url, 'log-none');
  const metadata = await keyWithLevel(gw, 'log-metadata', 'METADATA');
  const full = await keyWithLevel(gw, 'log-full', 'FULL');
  const keys = { NONE: none, METADATA: metadata.secret, FULL: full.secret };
  out(`## calllog: the same /v1/chat/completions call from keys with logBodies unset (NONE), METADATA and FULL, cache off`);
  out(`(level set by ${metadata.how}; median of ${ROUNDS} paired rounds of ${DURATION} s; ${load()})`);
  const answered = { NONE: 0, METADATA: 0, FULL: 0 };
  const variant = (level: keyof typeof keys, content: string, label: string = level): Variant => ({
    name: label,
    url: `${gw.url}/v1/chat/completions`,
    headers: auth(keys[level], 'off'),
    body: body('bench', content),
    pid: gw.pid,
    ok: hasChoices,
  });
  const tally = (rs: VariantResult[], levels: (keyof typeof keys)[]) => rs.forEach((r, i) => (answered[levels[i]!] += r.answered));
  for (const c of CONCURRENCY) {
    const rs = await pairedRounds([variant('NONE', 'Say hello.'), variant('METADATA', 'Say hello.'), variant('FULL', 'Say hello.')], { connections: c, ...rounds(ROUNDS, c === CONCURRENCY[0]) });
    tally(rs, ['NONE', 'METADATA', 'FULL']);
    formatPaired(rs, `c=${c}  `).forEach(out);
  }
  const cMax = Math.max(...CONCURRENCY);
  const prompt = promptWithPii(PROMPT_KB);
  const big = await pairedRounds([variant('NONE', prompt, `NONE, ${PROMPT_KB} KB prompt`), variant('FULL', prompt, `FULL, ${PROMPT_KB} KB prompt`)], { connections: cMax, ...rounds(ROUNDS, false) });
  tally(big, ['NONE', 'FULL']);
  formatPaired(big, `c=${cMax}  `).forEach(out);

  try {
    // the usage writer may still hold a backlog: wait until the records stop growing
    const t0 = Date.now();
    const written = async () => (await sqlRows<{ n: number }>(gw, `select count(*)::int as n from usage_records`))[0]!.n;
    for (let last = -1, now = await written(); now !== last && Date.now() - t0 < 60_000; ) [last, now] = [now, (await sleep(1000), await written())];
    if (Date.now() - t0 > 2500) out(`(the usage writer was still writing for ${((Date.now() - t0) / 1000).toFixed(0)} s after the load)`);
    const rows = await sqlRows<{ name: string; records: number; logs: number; level: string | null; body_bytes: number; stored_bytes: number }>(
      gw,
      `select k.name, (select count(*)::int from usage_records u where u.api_key_id = k.id) as records,
         count(c.id)::int as logs, min(c.level) as level, coalesce(avg(c.body_bytes), 0)::int as body_bytes,
         coalesce(avg(coalesce(pg_column_size(c.request), 0) + coalesce(pg_column_size(c.response), 0)), 0)::int as stored_bytes
       from api_keys k left join call_logs c on c.api_key_id = k.id where k.name like 'log-%' group by k.id, k.name order by k.name`,
    );
    for (const level of ['NONE', 'METADATA', 'FULL'] as const) {
      const r = rows.find((x) => x.name === `log-${level.toLowerCase()}`);
      if (!r) continue;
      const bytes = r.logs ? `; level ${r.level}, bodies ${r.body_bytes} B, request+response as stored ${r.stored_bytes} B (averages)` : '';
      out(`rows: ${level} key: ${r.logs} call_logs rows, ${r.records} usage records, ${answered[level]} calls answered 2xx${bytes}`);
    }
  } catch (e) {
    out(`rows: not read (${(e as Error).message.slice(0, 200)})`);
  }
}

/** Waits until the exporter has sent what it holds: a batch goes when 512 spans wait or after OTEL_BSP_SCHEDULE_DELAY (5 s). */
async function settleSpans(count: () => number): Promise<void> {
  const t0 = Date.now();
  let last = -1;
  while ((Date.now() - t0 < 6000 || count() !== last) && Date.now() - t0 < 30_000) {
    last = count();
    await sleep(1000);
  }
}

async function tracingSection(gw: Gateway, mockUrl: string, out: Out): Promise<void> {
  const sink = await startOtlpSink();
  const traced = await startGateway('gateway-traced', mockUrl, { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url });
  const offKey = await newKey(gw.url, 'trace-off');
  const onKey = await newKey(traced.url, 'trace-on');
  const call = (g: Gateway, key: string, name: string, extra: Record<string, string> = {}): Variant => ({
    name,
    url: `${g.url}/v1/chat/completions`,
    headers: { ...auth(key, 'off'), ...extra },
    body: body('bench', 'Say hello.'),
    pid: g.pid,
    ok: hasChoices,
  });
  const variants = [
    call(gw, offKey, 'off'),
    call(gw, offKey, 'off + traceparent', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
    call(traced, onKey, 'on'),
  ];
  out(`## tracing: the same /v1/chat/completions call, tracing off (with and without the caller's traceparent) and on (OTLP/HTTP to a receiver in the bench process), cache off`);
  out(`(off and on are two gateway processes alike but for OTEL_EXPORTER_OTLP_ENDPOINT; median of ${ROUNDS} paired rounds of ${DURATION} s; ${load()})`);
  await settleSpans(sink.spans); // the set-up calls' spans
  let spansTotal = 0;
  let answeredTotal = 0;
  for (const c of CONCURRENCY) {
    const before = sink.spans();
    const rates: number[] = [];
    let mark = { spans: 0, at: 0 };
    const rs = await pairedRounds(variants, {
      connections: c,
      ...rounds(ROUNDS, c === CONCURRENCY[0]),
      beforeRun: (v) => v.name === 'on' && (mark = { spans: sink.spans(), at: performance.now() }),
      afterRun: (v) => v.name === 'on' && rates.push((sink.spans() - mark.spans) / ((performance.now() - mark.at) / 1000)),
    });
    formatPaired(rs, `c=${c}  `).forEach(out);
    await settleSpans(sink.spans);
    const on = rs.find((r) => r.name === 'on')!;
    const spans = sink.spans() - before;
    spansTotal += spans;
    answeredTotal += on.answered;
    rates.sort((a, b) => a - b);
    out(`c=${c}  on: ${spans} spans received for ${on.answered} answered calls (${(spans / on.answered).toFixed(2)} a call), ${rates[Math.floor(rates.length / 2)]!.toFixed(0)} spans/s while measured`);
  }
  const perCall = spansTotal / Math.max(1, answeredTotal);
  const posts = sink.posts();
  if (sink.spans() === 0) out('no spans arrived: this build does not trace, or did not export');
  else out(`span names, a call on average (from a sample of the exports): ${[...sink.nameShares()].slice(0, 16).map(([n, share]) => `${n} ${(share * perCall).toFixed(2)}`).join(', ')}`);
  out(`exports: ${posts.total} POSTs, ${(posts.bytes / 1e6).toFixed(1)} MB${posts.notJson ? `, ${posts.notJson} not JSON (their spans not counted)` : ''}`);
  traced.child.kill('SIGTERM');
  await sink.close();
}

async function spoolSection(gw: Gateway, mockUrl: string, out: Out): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-spool-'));
  atExit.push(() => rmSync(dir, { recursive: true, force: true }));
  const spooled = await startGateway('gateway-spooled', mockUrl, { USAGE_SPOOL_DIR: dir });
  const plain = { off: await newKey(gw.url, 'spool-off'), on: await newKey(spooled.url, 'spool-on') };
  const full = { off: (await keyWithLevel(gw, 'spool-off-full', 'FULL')).secret, on: (await keyWithLevel(spooled, 'spool-on-full', 'FULL')).secret };
  const call = (g: Gateway, key: string, name: string, content: string): Variant => ({
    name,
    url: `${g.url}/v1/chat/completions`,
    headers: auth(key, 'off'),
    body: body('bench', content),
    pid: g.pid,
    ok: hasChoices,
  });
  out(`## spool: the same /v1/chat/completions call without and with the usage spool (USAGE_SPOOL_DIR on ${dir}), cache off`);
  out(`(two gateway processes alike but for USAGE_SPOOL_DIR; median of ${ROUNDS} paired rounds of ${DURATION} s; ${load()})`);
  for (const c of CONCURRENCY) {
    const rs = await pairedRounds([call(gw, plain.off, 'spool off', 'Say hello.'), call(spooled, plain.on, 'spool on', 'Say hello.')], { connections: c, ...rounds(ROUNDS, c === CONCURRENCY[0]) });
    formatPaired(rs, `c=${c}  `).forEach(out);
  }
  const cMax = Math.max(...CONCURRENCY);
  const prompt = promptWithPii(PROMPT_KB);
  const big = await pairedRounds(
    [call(gw, full.off, `spool off, FULL log, ${PROMPT_KB} KB prompt`, prompt), call(spooled, full.on, `spool on, FULL log, ${PROMPT_KB} KB prompt`, prompt)],
    { connections: cMax, ...rounds(ROUNDS, false) },
  );
  formatPaired(big, `c=${cMax}  `).forEach(out);
  await sleep(1500);
  out(`spool folder 1.5 s after the load: ${readdirSync(dir).filter((n) => n.endsWith('.jsonl')).length} segment files (written segments are deleted)`);
  spooled.child.kill('SIGTERM');
}

async function baselineSection(mockUrl: string, out: Out): Promise<void> {
  if (!BASE_REF) throw new Error('--sections=baseline needs --base-ref=<git ref>');
  const base = prepareBaseBuild(ROOT, BASE_REF, log);
  atExit.push(base.remove);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  const head = `${git('rev-parse', '--short=10', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' + uncommitted changes' : ''}`;
  try {
    const baseGw = await startGateway('gateway-base', mockUrl, { GATEWAY_ROOT: base.dir }, base.dir);
    const newGw = await startGateway('gateway-new', mockUrl);
    const chatQuery = 'mutation($input: ChatInput!) { chat(input: $input) { id message { content } finishReason usage { promptTokens completionTokens totalTokens costUsd } } }';
    const targets = async (g: Gateway, label: string): Promise<[Variant, Variant]> => {
      const key = await newKey(g.url, `baseline-${label}`);
      return [
        {
          name: `${label} GraphQL`,
          url: `${g.url}/graphql`,
          headers: { ...auth(key), accept: 'application/graphql-response+json, application/json' },
          body: JSON.stringify({ query: chatQuery, variables: { input: { model: 'bench', messages: [{ role: 'USER', content: 'Say hello.' }], maxTokens: 16 } } }),
          pid: g.pid,
          ok: (b) => b.includes('"chat":{') && !b.includes('"errors"'),
        },
        { name: `${label} REST`, url: `${g.url}/v1/chat/completions`, headers: auth(key), body: body('bench', 'Say hello.'), pid: g.pid, ok: hasChoices },
      ];
    };
    const [baseGql, baseRest] = await targets(baseGw, 'base');
    const [newGql, newRest] = await targets(newGw, 'new');
    newGql.against = baseGql.name;
    newRest.against = baseRest.name;
    baseRest.against = baseRest.name;
    out(`## baseline: base ${BASE_REF} (${base.commit.slice(0, 10)}) against the working tree (${head}), two fresh gateways, tracing off, call log NONE`);
    out(`(GraphQL chat and /v1/chat/completions, ${BASE_ROUNDS} paired rounds of ${DURATION} s; ratio = new / base in each round, and its median; ${load()})`);
    for (const c of BASE_CONCURRENCY) {
      const rs = await pairedRounds([baseGql, newGql, baseRest, newRest], { connections: c, ...rounds(BASE_ROUNDS, c === BASE_CONCURRENCY[0]) });
      formatPaired(rs, `c=${c}  `).forEach(out);
    }
    baseGw.child.kill('SIGTERM');
    newGw.child.kill('SIGTERM');
  } finally {
    base.remove();
  }
}

async function flagsSection(mockUrl: string, out: Out): Promise<void> {
  const gateways: Array<{ label: string; gw: Gateway; idleMb: number }> = [];
  for (const [i, [label, flags]] of FLAG_VARIANTS.entries()) {
    // a database per process, so no variant waits on another's usage writes
    const env: Record<string, string> = FLAGS_DATABASE ? { DATABASE_URL: `${FLAGS_DATABASE}_${i}`, USAGE_SPOOL_DIR: 'off' } : {};
    const gw = await startGateway(`gateway-flags-${i}`, mockUrl, env, undefined, flags);
    gateways.push({ label, gw, idleMb: 0 });
  }
  await sleep(3000);
  for (const g of gateways) g.idleMb = rssMb(g.gw.pid);
  const chatQuery = 'mutation($input: ChatInput!) { chat(input: $input) { id message { content } finishReason usage { promptTokens completionTokens totalTokens costUsd } } }';
  const variants: Variant[] = [];
  for (const { label, gw } of gateways) {
    const key = await newKey(gw.url, `flags-${label}`);
    variants.push({
      name: `${label} GraphQL`,
      url: `${gw.url}/graphql`,
      headers: { ...auth(key), accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query: chatQuery, variables: { input: { model: 'bench', messages: [{ role: 'USER', content: 'Say hello.' }], maxTokens: 16 } } }),
      pid: gw.pid,
      ok: (b) => b.includes('"chat":{') && !b.includes('"errors"'),
    });
    variants.push({ name: `${label} REST`, url: `${gw.url}/v1/chat/completions`, headers: auth(key), body: body('bench', 'Say hello.'), pid: gw.pid, ok: hasChoices, against: `${FLAG_VARIANTS[0]![0]} REST` });
  }
  out(`## node flags: one fresh gateway per set of flags (${FLAGS_DATABASE ? 'PostgreSQL, a database each' : 'in-memory database'}), tracing off, call log NONE`);
  out(`(${BASE_ROUNDS} paired rounds of ${DURATION} s; ratio = variant / all three flags in each round, and its median; ${load()})`);
  for (const { label, gw, idleMb } of gateways) out(`${label.padEnd(22)} [${FLAG_VARIANTS.find(([l]) => l === label)![1].join(' ')}]  idle RSS ${idleMb.toFixed(0)} MB (pid ${gw.pid})`);
  for (const c of BASE_CONCURRENCY) {
    const rs = await pairedRounds(variants, { connections: c, ...rounds(BASE_ROUNDS, c === BASE_CONCURRENCY[0]) });
    formatPaired(rs, `c=${c}  `).forEach(out);
  }
  await sleep(3000);
  for (const { label, gw } of gateways) out(`${label.padEnd(22)} RSS 3 s after the load ${rssMb(gw.pid).toFixed(0)} MB`);
  for (const { gw } of gateways) gw.child.kill('SIGTERM');
}

async function main(): Promise<void> {
  log(`node ${process.version}, ${cpus().length} CPUs, loadavg ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const tsx = ['--import', 'tsx'];
  const mock = await start('mock', [...tsx, 'bench/mock-upstream.ts'], { MOCK_GAP_MS: '1' });
  const mockUrl = `http://127.0.0.1:${mock.port as number}`;
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const lines: string[] = [];
  const out = (s: string) => (lines.push(s), log(s));
  if (SHARED_GATEWAY_SECTIONS.some((x) => SECTIONS.has(x))) await sharedGatewaySections(mockUrl, out);
  if (SECTIONS.has('baseline')) await baselineSection(mockUrl, out);
  if (SECTIONS.has('flags')) await flagsSection(mockUrl, out);
  process.stdout.write(`\n${lines.join('\n')}\n`);
  process.exit(0);
}

/** cache, guardrails, limits, calllog and tracing: one gateway process, a key per variant */
async function sharedGatewaySections(mockUrl: string, out: Out): Promise<void> {
  const thin = await start('thin', ['--import', 'tsx', 'bench/thin-proxy.ts'], { UPSTREAM: mockUrl });
  const thinUrl = `http://127.0.0.1:${thin.port as number}`;
  const gw = await startGateway('gateway', mockUrl);
  const gwUrl = gw.url;
  await gql(gwUrl, ADMIN_KEY, `mutation($i: CreateGuardrailPolicyInput!) { createGuardrailPolicy(input: $i) { name } }`, {
    i: { name: 'bench-pii', input: POLICY_RULES, output: { ...POLICY_RULES, pii: { ...POLICY_RULES.pii, restore: false } } },
  });
  const limits = LIMITS;
  const plainKey = await newKey(gwUrl, 'plain');
  const guardedKey = await newKey(gwUrl, 'guarded', { guardrailPolicies: ['bench-pii'] });
  const team = await gql<{ createTeam: { id: string } }>(gwUrl, ADMIN_KEY, `mutation($i: CreateTeamInput!) { createTeam(input: $i) { id } }`, {
    i: { name: 'bench-team', limits: { ...limits, monthlyBudgetUsd: 1e9 }, endUserLimits: limits },
  });
  const teamKey = await newKey(gwUrl, 'team', { team: team.createTeam.id, endUserLimits: limits });

  if (SECTIONS.has('cache')) out(`## cache: the same /v1/chat/completions body again and again (median of ${ROUNDS} rounds of ${DURATION} s)`);
  for (const c of SECTIONS.has('cache') ? CONCURRENCY : []) {
    const thinRun = await measure(`${thinUrl}/v1/chat/completions`, json, body('mock', 'Say hello.'), c);
    const off = await measure(`${gwUrl}/v1/chat/completions`, auth(plainKey, 'off'), body('bench', 'Say hello.'), c);
    const hit = await measure(`${gwUrl}/v1/chat/completions`, auth(plainKey, 'exact'), body('bench', 'Say hello.'), c);
    out(`c=${c}  thin proxy → mock     ${fmt(thinRun)}`);
    out(`c=${c}  gateway, cache off    ${fmt(off)}   ${(off.rps / thinRun.rps).toFixed(2)}× thin`);
    out(`c=${c}  gateway, cache hit    ${fmt(hit)}   ${(hit.rps / thinRun.rps).toFixed(2)}× thin`);
  }
  if (SECTIONS.has('cache')) {
  const slowOff = await measure(`${gwUrl}/v1/chat/completions`, auth(plainKey, 'off'), body('bench-slow', 'Say hello slowly.'), 1);
  const slowHit = await measure(`${gwUrl}/v1/chat/completions`, auth(plainKey, 'exact'), body('bench-slow', 'Say hello slowly.'), 1);
  out(`slow upstream (~${MOCK_DELAY_MS} ms), c=1: miss p50 ${slowOff.p50} ms, hit p50 ${slowHit.p50} ms`);
  }

  if (SECTIONS.has('guardrails')) out(`## guardrails: a ${PROMPT_KB} KB prompt with personal data, cache off`);
  const prompt = promptWithPii(PROMPT_KB);
  for (const c of SECTIONS.has('guardrails') ? CONCURRENCY : []) {
    const plain = await measure(`${gwUrl}/v1/chat/completions`, auth(plainKey, 'off'), body('bench', prompt), c);
    const guarded = await measure(`${gwUrl}/v1/chat/completions`, auth(guardedKey, 'off'), body('bench', prompt), c);
    const usPerCall = (1e6 / guarded.rps - 1e6 / plain.rps) * Math.min(c, cpus().length);
    out(`c=${c}  no policy   ${fmt(plain)}`);
    out(`c=${c}  policy      ${fmt(guarded)}   ${(guarded.rps / plain.rps).toFixed(2)}× (≈ ${(usPerCall / PROMPT_KB).toFixed(0)} µs of server time per KB, from the throughput)`);
  }

  if (SECTIONS.has('guardrails')) {
    out('## guardrail engine alone, in this process');
    const engine = await import('./guardrail-engine-cost.js');
    for (const line of await engine.measureEngine(POLICY_RULES, promptWithPii)) out(line);
  }

  if (SECTIONS.has('limits')) out('## limits: key limits only, then key + team + end user under each (4 subjects), cache off');
  const userBody = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 16, user: 'end-user-1' });
  for (const c of SECTIONS.has('limits') ? CONCURRENCY : []) {
    const keyOnly = await measure(`${gwUrl}/v1/chat/completions`, auth(plainKey, 'off'), body('bench', 'Say hello.'), c);
    const subjects = await measure(`${gwUrl}/v1/chat/completions`, auth(teamKey, 'off'), userBody, c);
    out(`c=${c}  key limits only       ${fmt(keyOnly)}`);
    out(`c=${c}  key+team+end users    ${fmt(subjects)}   ${(subjects.rps / keyOnly.rps).toFixed(2)}×`);
  }

  if (SECTIONS.has('calllog')) await calllogSection(gw, out);
  if (SECTIONS.has('tracing')) await tracingSection(gw, mockUrl, out);
  if (SECTIONS.has('spool')) await spoolSection(gw, mockUrl, out);
}

main().catch((e: unknown) => {
  log(String((e as Error).stack ?? e));
  process.exit(1);
});
