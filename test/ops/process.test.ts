/* The real process (src/main.ts), as `npm start` runs it: stdout is JSON log lines only (the banner and the first-start
 * admin key go to stderr), the upstream-attempt warning carries the caller's request id, and SIGTERM under a steady
 * load answers every request already received, refuses new connections, then exits. */
import { spawn, type ChildProcess } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshConnection } from '../kit/fresh-connection.js';
import type { AnyJson } from '../kit/json.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { sleep, waitFor } from './kit.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { message { content } } }';


describe('the gateway process', () => {
  let child: ChildProcess;
  let mock: OpenAIMock;
  let stdout = '';
  let stderr = '';
  let url: string;
  let key: string;
  let exited: Promise<number | null>;

  const gql = async (query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, requestId: res.headers.get('x-request-id'), body: (await res.json()) as { data?: AnyJson; errors?: Array<{ extensions?: Record<string, unknown> }> } };
  };
  const stdoutLines = () => stdout.split('\n').filter(Boolean);

  beforeAll(async () => {
    mock = await startOpenAIMock({ reply: { text: 'slow answer', delayMs: 300 } });
    // no drain delay: this file checks the stop's end (refused connections, every received request answered); drain.test.ts the delay
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: 'memory://', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', SHUTDOWN_DRAIN_DELAY_MS: '0' };
    // a first start: no admin key configured, none in the (empty) database
    for (const k of ['GATEWAY_ADMIN_KEY', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'REDIS_URL']) delete env[k];
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    exited = new Promise((r) => child.on('exit', (code) => r(code)));
    await waitFor(() => /on (http:\/\/\S+)\/graphql/.test(stderr) || child.exitCode !== null, 'the gateway to listen', 150_000);
    expect(child.exitCode, stderr).toBeNull();
    url = /on (http:\/\/\S+)\/graphql/.exec(stderr)![1];
    key = /^\s+(gw_\S+)\s*$/m.exec(stderr)![1];

    for (const [name, baseUrl] of [['dead', 'http://127.0.0.1:1/v1'], ['slow', mock.baseUrl]]) {
      const p = await gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', { i: { name, kind: 'OPENAI_COMPATIBLE', baseUrl, apiKey: `sk-${name}` } });
      expect(p.body.errors).toBeUndefined();
      const m = await gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name: `${name}-model`, targets: [{ provider: name, upstreamModel: 'm' }] } });
      expect(m.body.errors).toBeUndefined();
    }
  }, 180_000);
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await mock?.close();
  });

  it('writes only JSON lines to stdout; the banner and the first-start admin key go to stderr', async () => {
    expect(stderr).toContain(`GraphQL AI gateway on ${url}/graphql`);
    expect(stderr).toMatch(/First start: created an ADMIN key/);
    expect(key).toMatch(/^gw_/);
    expect(stdout).not.toContain('GraphQL AI gateway on');
    expect(stdout).not.toContain(key);
    expect(stdoutLines().length).toBeGreaterThan(2);
    for (const line of stdoutLines()) expect(() => JSON.parse(line), line).not.toThrow();
  });

  it('the "upstream attempt failed" warning carries the request id the client saw (GraphQL and REST)', async () => {
    const g = await gql(CHAT, { input: { model: 'dead-model', messages: [{ role: 'USER', content: 'x' }] } }, { 'x-request-id': 'attempt-log-graphql-1' });
    expect(g.requestId).toBe('attempt-log-graphql-1');
    expect(g.body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', requestId: 'attempt-log-graphql-1' });
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'dead-model', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(r.status).toBe(502);
    const restId = r.headers.get('x-request-id');
    expect(restId).toMatch(/^[0-9a-f-]{36}$/);

    const warnings = () => stdoutLines().map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'upstream attempt failed');
    await waitFor(() => warnings().some((w) => w.requestId === restId), 'the REST attempt warning');
    for (const id of ['attempt-log-graphql-1', restId]) {
      const mine = warnings().filter((w) => w.requestId === id);
      expect(mine.length, id!).toBeGreaterThan(0);
      expect(mine[0]).toMatchObject({ level: 40, provider: 'dead', model: 'dead-model', invocationId: expect.any(String) });
    }
  });

  // A request the server never received (a new connection closed with the listener, refused or reset by the kernel)
  // cannot be answered; every request it did receive must be, and the client must read that answer.
  it('SIGTERM under a steady load: every request received is answered, new connections are refused, then it exits', async () => {
    const USERS = 100;
    type Outcome = { ok: true; afterStop: boolean; id: string } | { ok: false; error: string; id: string };
    const outcomes: Outcome[] = [];
    let stopAt = 0;
    // each user sends calls one after another on keep-alive connections until the gateway stops taking them. Which
    // requests went out on a connection that had carried one before is read from undici's diagnostics channels:
    // losing one of those (the server closed a connection it counted as idle) is the bug
    const sentOn = new WeakMap<object, number>();
    const reused = new WeakSet<object>();
    const lostOnReused: string[] = [];
    const onSend = ({ request: r, socket }: { request: object; socket: object }) => {
      const n = sentOn.get(socket) ?? 0;
      if (n > 0) reused.add(r);
      sentOn.set(socket, n + 1);
    };
    const onError = ({ request: r, error }: { request: object; error: { code?: string; message?: string } }) => {
      if (reused.has(r)) lostOnReused.push(error.code ?? String(error.message));
    };
    dc.subscribe('undici:client:sendHeaders', onSend as (m: unknown) => void);
    dc.subscribe('undici:request:error', onError as (m: unknown) => void);
    const user = async (u: number) => {
      for (let i = 0; ; i++) {
        const id = `steady-${u}-${i}`;
        try {
          const r = await gql(CHAT, { input: { model: 'slow-model', messages: [{ role: 'USER', content: `user ${u} call ${i}` }] } }, { 'x-request-id': id });
          if (r.body.data?.chat.message.content !== 'slow answer') throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.body)}`);
          outcomes.push({ ok: true, afterStop: stopAt > 0, id });
        } catch (e) {
          const cause = (e as { cause?: { code?: string; message?: string } }).cause;
          outcomes.push({ ok: false, error: cause?.code ?? cause?.message ?? String(e), id });
          return;
        }
      }
    };
    const users = Array.from({ length: USERS }, (_, u) => user(u));
    await waitFor(() => outcomes.length >= 2 * USERS, 'two rounds of calls', 20_000);
    stopAt = Date.now();
    child.kill('SIGTERM');
    await waitFor(async () => (await freshConnection(url)) === 'refused', 'new connections to be refused', 3000);
    await Promise.all(users);
    dc.unsubscribe('undici:client:sendHeaders', onSend as (m: unknown) => void);
    dc.unsubscribe('undici:request:error', onError as (m: unknown) => void);
    expect(lostOnReused).toEqual([]);
    expect(await Promise.race([exited, sleep(15_000).then(() => 'still running')])).toBe(0);

    // what the server received, from its own JSON log lines (one per request, with the id the client sent)
    const received = new Map<string, { status: number; aborted?: boolean }>();
    for (const line of stdoutLines()) {
      const l = JSON.parse(line) as { msg?: string; requestId?: string; status: number; aborted?: boolean };
      if (l.msg === 'request completed' && l.requestId?.startsWith('steady-')) received.set(l.requestId, l);
    }
    const failures = outcomes.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
    // each user ends on exactly one failed call: a new connection the stopped server did not take
    expect(failures).toHaveLength(USERS);
    expect(failures.filter((f) => f.error !== 'ECONNREFUSED' && f.error !== 'ECONNRESET')).toEqual([]);
    expect(failures.filter((f) => received.has(f.id)).map((f) => ({ ...f, server: received.get(f.id) }))).toEqual([]);
    // every request received was answered in full (200, not aborted), and its client read the answer
    const ok = new Set(outcomes.filter((o) => o.ok).map((o) => o.id));
    expect([...received.entries()].filter(([id, l]) => l.status !== 200 || l.aborted || !ok.has(id))).toEqual([]);
    expect(received.size).toBe(ok.size);
    // the calls in flight at the signal were all answered
    expect(outcomes.filter((o) => o.ok && o.afterStop).length).toBeGreaterThanOrEqual(USERS * 0.9);
  }, 60_000);
});
