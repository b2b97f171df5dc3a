/*
 * SIGTERM drains the real process (src/main.ts) on PostgreSQL: /readyz turns 503 at once while calls are still served
 * for SHUTDOWN_DRAIN_DELAY_MS; websockets are closed with a code graphql-ws's default client retries on; an HTTP
 * call, an SSE stream and a graphql-ws stream in flight finish normally; a stream longer than the grace is cut; every
 * one of them has its usage record written before the process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyJson } from '../kit/json.js';
import { readSse } from '../kit/sse.js';
import { createWsClient, wsCollect, wsUrl } from '../kit/ws.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { freshDatabase, PG_URL, type FreshDatabase } from '../usage/usage-kit.js';
import { sleep, waitFor } from './kit.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ADMIN_KEY = 'gw_drain_test_admin_key_0123456789abcdef';
const DRAIN_DELAY_MS = 1500;
const GRACE_MS = 8000;
const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id message { content } } }';
const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { invocationId delta finishReason } }';
/** Streamed in pieces 250 ms apart: about 2 s, so it is still running when SIGTERM comes and ends well within the grace. */
const SHORT_STREAM = ['one', ' two', ' three', ' four', ' five', ' six', ' seven', ' eight'];
/** About 4 s: still running when the websockets start draining (after the drain delay). */
const MEDIUM_STREAM = Array.from({ length: 16 }, (_, i) => ` m${i}`);

/** What the upstream answers, by the first word of the last user message. */
function replyFor(text: string) {
  if (text.startsWith('slow')) return { text: 'slow answer', delayMs: 1500 };
  if (text.startsWith('short-stream')) return { chunks: SHORT_STREAM, gapMs: 250 };
  if (text.startsWith('medium-stream')) return { chunks: MEDIUM_STREAM, gapMs: 250 };
  // far longer than the grace: cut at the stop's deadline
  if (text.startsWith('long-stream')) return { chunks: Array.from({ length: 60 }, (_, i) => ` w${i}`), gapMs: 500 };
  return { text: 'quick answer' };
}

describe.skipIf(!PG_URL)('SIGTERM drains the gateway process', () => {
  let fresh: FreshDatabase;
  let mock: OpenAIMock;
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let url: string;
  let key: string;
  let exited: Promise<number | null>;

  const gql = async (query: string, variables: Record<string, unknown>, secret = key) => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: (await res.json()) as { data?: AnyJson; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
  };
  const input = (tag: string, content = tag) => ({ model: 'mock-model', messages: [{ role: 'USER', content }], metadata: { tag } });

  beforeAll(async () => {
    fresh = await freshDatabase(PG_URL!);
    mock = await startOpenAIMock({
      reply: (req) => {
        const messages = (req.body as { messages?: Array<{ content?: string }> }).messages ?? [];
        return replyFor(String(messages.at(-1)?.content ?? ''));
      },
    });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: fresh.url,
      GATEWAY_ADMIN_KEY: ADMIN_KEY,
      GATEWAY_SECRET: 'drain-test-secret-drain-test-secret',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      // this test checks the database itself, and must not share ./.data/spool with anything
      USAGE_SPOOL_DIR: 'off',
    };
    for (const k of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'REDIS_URL']) delete env[k];
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    exited = new Promise((r) => child.on('exit', (code) => r(code)));
    // tsx compiles the whole source tree on a cold start: on a loaded 2-core machine that alone has taken minutes
    await waitFor(() => /on (http:\/\/\S+)\/graphql/.test(stderr) || child.exitCode !== null, 'the gateway to listen', 150_000);
    expect(child.exitCode, stderr).toBeNull();
    url = /on (http:\/\/\S+)\/graphql/.exec(stderr)![1];

    const p = await gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', { i: { name: 'mock', kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl, apiKey: 'sk-mock' } }, ADMIN_KEY);
    expect(p.body.errors).toBeUndefined();
    const m = await gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name: 'mock-model', targets: [{ provider: 'mock', upstreamModel: 'm' }] } }, ADMIN_KEY);
    expect(m.body.errors).toBeUndefined();
    const k = await gql('mutation { createApiKey(input: { name: "drain", scopes: [INVOKE] }) { secret } }', {}, ADMIN_KEY);
    expect(k.body.errors).toBeUndefined();
    key = (k.body.data as { createApiKey: { secret: string } }).createApiKey.secret;
  }, 180_000); // the cold start above (up to 150 s) plus the fresh database and the setup calls
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await mock?.close();
    await fresh?.drop();
  });

  // the grace (8 s) and start-up of the calls are inside: about 12 s on a loaded machine
  it('readiness turns 503 first, calls still served during the delay, streams finish, websockets told to reconnect, usage written', async () => {
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    // a socket with nothing running, from graphql-ws's client with its default retry options
    const idleCloses: number[] = [];
    let idleConnecting = 0;
    const idle = createClient({
      url: wsUrl(url),
      webSocketImpl: WebSocket,
      lazy: false,
      connectionParams: { authorization: `Bearer ${key}` },
      // its reconnect attempts after the exit are refused: counted below, not printed
      onNonLazyError: () => {},
      on: {
        connecting: () => void idleConnecting++,
        closed: (e) => void idleCloses.push((e as { code: number }).code),
      },
    });
    await waitFor(() => idleConnecting > 0 && idle, 'the idle socket to connect');

    // in flight at the SIGTERM: a graphql-ws stream, an SSE stream (REST), an HTTP call, and a stream too long for the grace
    const wsStreaming = createWsClient(url, key);
    const wsStream = wsCollect<{ chatStream: { invocationId: string; delta: string; finishReason: string | null } }>(wsStreaming, STREAM, { input: input('ws-stream', 'short-stream') }, 20_000);
    // a socket whose client subscribes again while it drains: that subscribe waits for the socket's close (1012),
    // after its running stream has ended; a client that retries sends it again on its new connection
    const wsBusy = createWsClient(url, key);
    const busyStream = wsCollect<{ chatStream: { delta: string } }>(wsBusy, STREAM, { input: input('ws-busy', 'medium-stream') }, 20_000);
    const wsLong = createWsClient(url, key);
    const longOutcome = wsCollect(wsLong, STREAM, { input: input('ws-long', 'long-stream') }, 30_000).then(
      (r) => ({ cut: false, results: r.length }),
      (e: unknown) => ({ cut: true, code: (e as { code?: number }).code }),
    );
    const restStream = (async () => {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'mock-model', stream: true, messages: [{ role: 'user', content: 'short-stream' }], metadata: { tag: 'sse-stream' } }),
      });
      let text = '';
      let done = false;
      for await (const ev of readSse(res.body!)) {
        if (ev.data === '[DONE]') done = true;
        else text += (JSON.parse(ev.data) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content ?? '';
      }
      return { status: res.status, text, done };
    })();
    const httpCall = gql(CHAT, { input: input('http-slow', 'slow') });
    // the streams have started upstream, the slow call is waiting on it
    await waitFor(() => mock.chatRequests().length >= 5, 'the calls to reach the upstream', 10_000);
    await sleep(300);

    const termAt = Date.now();
    child.kill('SIGTERM');
    const draining = await waitFor(
      async () => {
        const r = await fetch(`${url}/readyz`);
        return r.status === 503 ? { at: Date.now(), body: (await r.json()) as AnyJson } : undefined;
      },
      '/readyz to answer 503',
      2000,
    );
    // during the drain delay the instance still serves new calls (the load balancer has not noticed yet)
    const duringDelay = await gql(CHAT, { input: input('during-delay', 'quick') });
    const duringDelayAt = Date.now();
    // the listener has closed and the websockets drain: a new subscribe on the busy socket is held, not run
    await sleep(Math.max(0, termAt + DRAIN_DELAY_MS + 500 - Date.now()));
    const heldOutcome = wsCollect(wsBusy, STREAM, { input: input('ws-held', 'quick') }, 20_000).then(
      (r) => ({ closedWith: undefined as number | undefined, results: r }),
      (e: unknown) => ({ closedWith: (e as { code?: number }).code, results: [] }),
    );

    const wsResults = await wsStream;
    const sse = await restStream;
    const http = await httpCall;
    const long = await longOutcome;
    const busyResults = await busyStream;
    const held = await heldOutcome;
    await waitFor(() => idleCloses.length > 0, 'the idle socket to be closed', GRACE_MS);
    const exitCode = await Promise.race([exited, sleep(GRACE_MS + 5000).then(() => 'still running')]);
    const exitedAfterMs = Date.now() - termAt;
    idle.dispose();
    await wsStreaming.dispose();
    await wsLong.dispose();
    await wsBusy.dispose();

    expect(draining.body).toEqual({ status: 'draining' });
    expect(draining.at - termAt).toBeLessThan(1000);
    expect(duringDelayAt - termAt).toBeLessThan(DRAIN_DELAY_MS);
    expect(duringDelay.status).toBe(200);
    expect(duringDelay.body.data).toMatchObject({ chat: { message: { content: 'quick answer' } } });

    // streams in flight finished normally, after the SIGTERM
    expect(wsResults.map((r) => r.data?.chatStream.delta ?? '').join('')).toBe(SHORT_STREAM.join(''));
    expect(wsResults.at(-1)?.data?.chatStream.finishReason).toBeTruthy();
    expect(sse).toEqual({ status: 200, text: SHORT_STREAM.join(''), done: true });
    expect(http.body.data).toMatchObject({ chat: { message: { content: 'slow answer' } } });
    // the busy socket's stream ran to its end; the subscribe sent while draining never ran here: the socket closed
    // with 1012 under it (this client does not retry, so the close is its error)
    expect(busyResults.map((r) => r.data?.chatStream.delta ?? '').join('')).toBe(MEDIUM_STREAM.join(''));
    expect(held).toEqual({ closedWith: 1012, results: [] });
    expect(wsBusy.closes.map((c) => c.code)).toEqual([1012]);
    // a stream still running at the deadline is cut
    expect(long.cut).toBe(true);

    // the idle socket was told to reconnect with 1012, and graphql-ws's default client did try to reconnect
    expect(idleCloses[0]).toBe(1012);
    await waitFor(() => idleConnecting >= 2, 'the idle client to reconnect', 5000);

    expect(exitCode).toBe(0);
    expect(exitedAfterMs).toBeLessThan(GRACE_MS + 2000);

    // every call has its usage record, written before the exit (nothing runs after it to write them)
    const rows = await fresh.sql<Array<{ tag: string; status: string }>>`
      select metadata->>'tag' as tag, status from usage_records where metadata->>'tag' is not null order by tag`;
    expect(Object.fromEntries(rows.map((r) => [r.tag, r.status]))).toEqual({
      'during-delay': 'OK',
      'ws-busy': 'OK',
      'http-slow': 'OK',
      'sse-stream': 'OK',
      'ws-long': 'CANCELLED',
      'ws-stream': 'OK',
    });
    expect(rows).toHaveLength(6);
    const messages = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { msg?: string }).msg);
    expect(messages.indexOf('draining: /readyz answers 503; still serving until the load balancer notices')).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
