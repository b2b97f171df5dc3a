/*
 * The drain with the usage spool on: a gateway process (src/main.ts) on a fresh PostgreSQL database with a spool folder
 * of its own gets SIGTERM while a graphql-ws stream, an SSE stream and unary calls are in flight. Every call that got
 * an answer has exactly one usage record once the process has exited, and the spool folder holds no segment: the
 * last flush wrote everything, and the written segments went.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../kit/sse.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { freshDatabase, TEST_DATABASE_URL } from '../limits/kit.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ADMIN_KEY = 'gw_spool_drain_admin_key_0123456789abcdef';
const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id } }';
const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { invocationId delta finishReason } }';
/** About 2 s in pieces 250 ms apart: still running at the SIGTERM, done well within the grace. */
const CHUNKS = ['one', ' two', ' three', ' four', ' five', ' six', ' seven', ' eight'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.jsonl'));

describe.skipIf(!TEST_DATABASE_URL)('SIGTERM with the usage spool on', () => {
  let db: { url: string; drop(): Promise<void> };
  let sql: postgres.Sql;
  let mock: OpenAIMock;
  let child: ChildProcess | undefined;
  let spoolDir: string;

  beforeAll(async () => {
    db = await freshDatabase(TEST_DATABASE_URL!);
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
    spoolDir = mkdtempSync(join(tmpdir(), 'gw-spool-drain-'));
    mock = await startOpenAIMock({
      reply: (req) => {
        const text = String((req.body as { messages?: Array<{ content?: string }> }).messages?.at(-1)?.content ?? '');
        if (text.startsWith('stream')) return { chunks: CHUNKS, gapMs: 250 };
        if (text.startsWith('slow')) return { text: 'slow answer', delayMs: 1500 };
        return { text: 'quick answer', delayMs: 20 };
      },
    });
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await mock?.close();
    await sql?.end({ timeout: 1 });
    await db?.drop();
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  // one process start (tsx transpiles src/ on it, ~10-20 s on a loaded 2-core machine) plus an 8 s grace
  it('every answered call (graphql-ws stream, SSE stream, unary) has exactly one usage record; no segment is left', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: db.url,
      USAGE_SPOOL_DIR: spoolDir,
      // the records wait in the backlog (and their segments on disk) until the stop's flush writes them
      USAGE_FLUSH_MS: '5000',
      GATEWAY_ADMIN_KEY: ADMIN_KEY,
      GATEWAY_SECRET: 'spool-drain-test-secret-0123456789',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_DELAY_MS: '500',
      SHUTDOWN_GRACE_MS: '8000',
    };
    for (const k of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'REDIS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT']) delete env[k];
    const gw = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = gw;
    let out = '';
    gw.stdout!.on('data', (d) => (out += d));
    gw.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => gw.once('exit', (code) => r(code)));
    const startBy = Date.now() + 90_000;
    while (!/on (http:\/\/\S+)\/graphql/.test(out)) {
      if (gw.exitCode !== null) throw new Error(`gateway exited: ${out}`);
      if (Date.now() > startBy) throw new Error(`gateway did not start: ${out}`);
      await sleep(50);
    }
    const url = /on (http:\/\/\S+)\/graphql/.exec(out)![1];
    const gql = async (query: string, variables: Record<string, unknown>, secret: string) => {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    };
    const setup = [
      await gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', { i: { name: 'mock', kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl, apiKey: 'sk-mock' } }, ADMIN_KEY),
      await gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name: 'mock-model', targets: [{ provider: 'mock', upstreamModel: 'm' }] } }, ADMIN_KEY),
    ];
    const k = await gql('mutation { createApiKey(input: { name: "drain", scopes: [INVOKE] }) { secret } }', {}, ADMIN_KEY);
    expect([...setup, k].flatMap((r) => r.errors ?? [])).toEqual([]);
    const key = (k.data as { createApiKey: { secret: string } }).createApiKey.secret;
    const input = (content: string) => ({ model: 'mock-model', messages: [{ role: 'USER', content }] });

    // unary calls one after another until the listener refuses them
    const unary: string[] = [];
    let refusing = false;
    const workers = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; !refusing; i++) {
          try {
            const r = await gql(CHAT, { input: input(`${w === 0 && i % 3 === 0 ? 'slow' : 'quick'} ${w}.${i}`) }, key);
            const id = (r.data?.chat as { id?: string } | undefined)?.id;
            if (id) unary.push(id);
          } catch {
            refusing = true;
          }
        }
      }),
    );
    const ws = createWsClient(url, key);
    const wsStream = wsCollect<{ chatStream: { invocationId: string; delta: string; finishReason: string | null } }>(ws, STREAM, { input: input('stream ws') }, 20_000);
    const sseStream = (async () => {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'mock-model', stream: true, messages: [{ role: 'user', content: 'stream sse' }] }),
      });
      let id = '';
      let text = '';
      let done = false;
      for await (const ev of readSse(res.body!)) {
        if (ev.data === '[DONE]') done = true;
        else {
          const chunk = JSON.parse(ev.data) as { id: string; choices: Array<{ delta?: { content?: string } }> };
          id = chunk.id;
          text += chunk.choices[0]?.delta?.content ?? '';
        }
      }
      return { status: res.status, id, text, done };
    })();
    // both streams are running upstream and some unary calls were answered (their records wait in the spool)
    const loadBy = Date.now() + 15_000;
    while ((mock.chatRequests().filter((r) => JSON.stringify(r.body).includes('stream')).length < 2 || unary.length < 10) && Date.now() < loadBy) await sleep(20);
    await sleep(300);
    expect(segments(spoolDir).length, 'records waiting in the spool at the SIGTERM').toBeGreaterThan(0);

    const termAt = Date.now();
    gw.kill('SIGTERM');
    const wsResults = await wsStream;
    const sse = await sseStream;
    const exitCode = await Promise.race([exited, sleep(15_000).then(() => 'still running')]);
    refusing = true;
    await workers;
    await ws.dispose();
    expect(exitCode, out.slice(-3000)).toBe(0);
    expect(Date.now() - termAt).toBeLessThan(12_000);

    // the streams ran to their end after the SIGTERM
    expect(wsResults.map((r) => r.data?.chatStream.delta ?? '').join('')).toBe(CHUNKS.join(''));
    expect(sse).toMatchObject({ status: 200, text: CHUNKS.join(''), done: true });
    const wsId = wsResults[0].data!.chatStream.invocationId;
    const sseId = sse.id.replace(/^chatcmpl-/, '');
    const answered = [wsId, sseId, ...unary];
    expect(unary.length).toBeGreaterThanOrEqual(10);

    // written before the exit: nothing runs after it to write them
    const rows = await sql<Array<{ id: string; n: number }>>`select id::text, count(*)::int as n from usage_records where id = any(${answered}::uuid[]) group by id`;
    const per = new Map(rows.map((r) => [r.id, r.n]));
    expect(answered.filter((id) => !per.has(id)), 'answered calls without a usage record').toEqual([]);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(out).not.toMatch(/left in the spool for the next start/);
    expect(segments(spoolDir)).toEqual([]);
    expect(readdirSync(spoolDir).filter((n) => n.startsWith('.lock'))).toEqual([]);
  }, 120_000);
});
