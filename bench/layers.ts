/*
 * npm run bench:layers [-- options]: what the response cache and the guardrails cost and save. Not a timed test.
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
 * Options: --duration=5 --warmup=1 --concurrency=1,10,50 --prompt-kb=4 --mock-delay-ms=200 --rounds=3 (the median
 * of the rounds stands) --sections=cache,guardrails,limits
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { loadavg, cpus } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

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
const ADMIN_KEY = `gw_bench_admin_${Math.random().toString(36).slice(2)}_0123456789`;
const log = (m: string) => process.stderr.write(`[layers ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

/** A node process that prints one JSON line with ready:true when it listens. */
function start(name: string, args: string[], env: Record<string, string>): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
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

async function main(): Promise<void> {
  log(`node ${process.version}, ${cpus().length} CPUs, loadavg ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const tsx = ['--import', 'tsx'];
  const mock = await start('mock', [...tsx, 'bench/mock-upstream.ts'], { MOCK_GAP_MS: '1' });
  const mockUrl = `http://127.0.0.1:${mock.port as number}`;
  const thin = await start('thin', [...tsx, 'bench/thin-proxy.ts'], { UPSTREAM: mockUrl });
  const thinUrl = `http://127.0.0.1:${thin.port as number}`;
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const gw = await start('gateway', ['bench/gateway-server.mjs'], {
    GATEWAY_ADMIN_KEY: ADMIN_KEY,
    GATEWAY_SECRET: 'bench-secret-bench-secret-0123456789',
    LOG_LEVEL: 'warn',
    DATABASE_URL: 'memory://',
  });
  const gwUrl = gw.url as string;

  await gql(gwUrl, ADMIN_KEY, `mutation($i: CreateProviderInput!) { createProvider(input: $i) { name } }`, {
    i: { name: 'mock', kind: 'OPENAI_COMPATIBLE', baseUrl: `${mockUrl}/v1`, apiKey: 'sk-mock' },
  });
  for (const [name, upstreamModel] of [['bench', 'mock'], ['bench-slow', `mock-delay-${MOCK_DELAY_MS}`]] as const) {
    await gql(gwUrl, ADMIN_KEY, `mutation($i: CreateModelInput!) { createModel(input: $i) { name } }`, {
      i: { name, targets: [{ provider: 'mock', upstreamModel }], inputPricePerMTok: 0.15, outputPricePerMTok: 0.6 },
    });
  }
  await gql(gwUrl, ADMIN_KEY, `mutation($i: CreateGuardrailPolicyInput!) { createGuardrailPolicy(input: $i) { name } }`, {
    i: { name: 'bench-pii', input: POLICY_RULES, output: { ...POLICY_RULES, pii: { ...POLICY_RULES.pii, restore: false } } },
  });
  const limits = { requestsPerMinute: 10_000_000, tokensPerMinute: 2_000_000_000 };
  const newKey = async (name: string, extra: Record<string, unknown> = {}) =>
    (await gql<{ createApiKey: { secret: string } }>(gwUrl, ADMIN_KEY, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, {
      i: { name, scopes: ['INVOKE'], limits, ...extra },
    })).createApiKey.secret;
  const plainKey = await newKey('plain');
  const guardedKey = await newKey('guarded', { guardrailPolicies: ['bench-pii'] });
  const team = await gql<{ createTeam: { id: string } }>(gwUrl, ADMIN_KEY, `mutation($i: CreateTeamInput!) { createTeam(input: $i) { id } }`, {
    i: { name: 'bench-team', limits: { ...limits, monthlyBudgetUsd: 1e9 }, endUserLimits: limits },
  });
  const teamKey = await newKey('team', { team: team.createTeam.id, endUserLimits: limits });

  const body = (model: string, content: string, stream = false) => JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: 16, stream });
  const json = { 'content-type': 'application/json' };
  const auth = (key: string, cache?: string) => ({ ...json, authorization: `Bearer ${key}`, ...(cache ? { 'x-gateway-cache': cache } : {}) });
  const lines: string[] = [];
  const out = (s: string) => (lines.push(s), log(s));

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

  process.stdout.write(`\n${lines.join('\n')}\n`);
  process.exit(0);
}

main().catch((e: unknown) => {
  log(String((e as Error).stack ?? e));
  process.exit(1);
});
