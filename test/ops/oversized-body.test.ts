/* A body over the limit: Node's fetch and the official openai SDK, still uploading when the 413 is sent, receive it
 * (not EPIPE / a connection error, and the SDK does not retry); the rest of the body is read and dropped only
 * within bounds, so a slow or endless upload cannot hold a connection. */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

const ROOT = new URL('../..', import.meta.url).pathname;

interface Outcome {
  what: string;
  status?: number;
  body?: string;
  error?: string;
}

/**
 * The clients run in a child process: in the test's own process the server reads each chunk the moment the
 * client writes it, and the race that resets a real client's upload never happens.
 */
function runClients(url: string, key: string): Promise<Outcome[]> {
  const script = `
    import OpenAI from 'openai';
    const [url, key] = JSON.parse(process.argv[1]);
    const content = 'x'.repeat(10 * 1024 * 1024);
    const chat = JSON.stringify({ model: 'echo', messages: [{ role: 'user', content }] });
    const gql = JSON.stringify({ query: 'mutation($c: String!) { chat(input: { model: "echo", messages: [{ role: USER, content: $c }] }) { id } }', variables: { c: content } });
    const headers = { 'content-type': 'application/json', authorization: 'Bearer ' + key };
    function stream(s) {
      const bytes = new TextEncoder().encode(s);
      let at = 0;
      return new ReadableStream({ pull(c) { c.enqueue(bytes.slice(at, at + 65536)); at += 65536; if (at >= bytes.length) c.close(); } });
    }
    const out = [];
    async function attempt(what, path, init) {
      try {
        const res = await fetch(url + path, init);
        out.push({ what, status: res.status, body: await res.text() });
      } catch (e) {
        out.push({ what, error: String(e.cause?.code ?? e.cause?.message ?? e.message) });
      }
    }
    for (let i = 0; i < 4; i++) {
      await attempt('fetch /v1/chat/completions', '/v1/chat/completions', { method: 'POST', headers, body: chat });
      await attempt('fetch /graphql', '/graphql', { method: 'POST', headers: { ...headers, accept: 'application/graphql-response+json' }, body: gql });
    }
    await attempt('fetch chunked /v1/chat/completions', '/v1/chat/completions', { method: 'POST', headers, body: stream(chat), duplex: 'half' });
    await attempt('fetch chunked /graphql', '/graphql', { method: 'POST', headers: { ...headers, accept: 'application/graphql-response+json' }, body: stream(gql), duplex: 'half' });
    const client = new OpenAI({ baseURL: url + '/v1', apiKey: key, maxRetries: 2, timeout: 20000 });
    try {
      await client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content }] });
      out.push({ what: 'sdk', status: 200 });
    } catch (e) {
      const kind = e instanceof OpenAI.APIConnectionError ? 'APIConnectionError' : e instanceof OpenAI.APIError ? 'APIError' : String(e);
      out.push({ what: 'sdk', error: kind, status: e.status, body: JSON.stringify(e.error ?? null) });
    }
    process.stdout.write(JSON.stringify(out));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify([url, key])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Outcome[]) : reject(new Error(`client exited with ${code}: ${out}`))));
  });
}

describe('a body over the limit reaches Node clients as a 413', () => {
  let gw: TestGateway;
  const requests = new Map<string, number>();
  beforeAll(async () => {
    gw = await startGateway();
    gw.app.server.on('request', (req) => requests.set(req.url ?? '', (requests.get(req.url ?? '') ?? 0) + 1));
  });
  afterAll(() => gw?.stop());

  it('fetch (announced and chunked, REST and GraphQL) gets the 413 with its error body; the SDK an APIError 413, sent once', async () => {
    const key = await gw.createKey({ name: 'uploader', scopes: ['INVOKE'] });
    const outcomes = await runClients(gw.url, key.secret);
    expect(outcomes).toHaveLength(11);
    for (const o of outcomes.filter((x) => x.what.startsWith('fetch'))) {
      expect(o, o.what).toMatchObject({ status: 413 });
      // over SSE the error is the one 'next' event's data
      const body = JSON.parse(o.what.includes('SSE') ? /event: next\ndata: (.*)\n/.exec(o.body!)![1] : o.body!);
      if (o.what.includes('/v1/')) {
        expect(body, o.what).toEqual({ error: { message: 'Request body larger than 2097152 bytes', type: 'invalid_request_error', param: null, code: 'BAD_USER_INPUT' } });
      } else {
        expect(body.errors, o.what).toHaveLength(1);
        expect(body.errors[0].message, o.what).toBe('Request body larger than 2097152 bytes');
        expect(body.errors[0].extensions.code, o.what).toBe('BAD_USER_INPUT');
      }
    }
    const sdk = outcomes.find((o) => o.what === 'sdk')!;
    expect(sdk).toMatchObject({ error: 'APIError', status: 413 });
    expect(JSON.parse(sdk.body!)).toMatchObject({ message: 'Request body larger than 2097152 bytes', code: 'BAD_USER_INPUT' });
    // 4 + 1 chunked by fetch, then exactly one from the SDK (maxRetries 2): a 413 is final, nothing was retried
    expect(requests.get('/v1/chat/completions')).toBe(6);
  }, 60_000);
});

/** Raw HTTP/1.1 on a socket: the head, then the body as the test writes it; resolves when the server closes. */
function rawUpload(url: string, head: string) {
  const { port } = new URL(url);
  const socket: Socket = connect(Number(port), '127.0.0.1');
  let received = '';
  let answeredAt = 0;
  const answered = new Promise<void>((resolve) =>
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (!answeredAt && /\r\n\r\n[\s\S]*(\}|\r\n0\r\n\r\n)$/.test(received)) {
        answeredAt = Date.now();
        resolve();
      }
    }),
  );
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  socket.on('error', () => {});
  socket.write(head);
  return { socket, answered, closed, received: () => received, answeredAt: () => answeredAt };
}

describe('the rest of a refused body is drained within bounds', () => {
  const bounds = { maxBytes: 4 * 1024 * 1024, maxMs: 2000 };
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({}, { drainBounds: bounds });
  });
  afterAll(() => gw?.stop());

  const head = (path: string, key: string, length?: number) =>
    `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${key}\r\n` +
    (length === undefined ? 'transfer-encoding: chunked\r\n' : `content-length: ${length}\r\n`) +
    '\r\n';
  const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);

  it('a slow endless upload keeps its connection for the time bound, then it is cut', async () => {
    for (const [path, chunked] of [
      ['/v1/chat/completions', false],
      ['/v1/chat/completions', true],
      ['/graphql', true],
    ] as const) {
      // (with Accept: application/json, so the fast path reads the body: Yoga's own reader still closes at once)
      const up = rawUpload(gw.url, head(path, gw.adminKey, chunked ? undefined : 1 << 30).replace('\r\n\r\n', '\r\naccept: application/json\r\n\r\n'));
      const piece = Buffer.alloc(16 * 1024, 'x');
      // a chunked body is only refused once past the limit: send that much at once, then trickle
      if (chunked) up.socket.write(chunk(Buffer.alloc(2 * 1024 * 1024 + 1, 'x')));
      const trickle = setInterval(() => up.socket.writable && up.socket.write(chunked ? chunk(piece) : piece), 50);
      try {
        await up.answered;
        expect(up.received(), path).toMatch(/^HTTP\/1\.1 413 /);
        const closedAt = await up.closed;
        const heldMs = closedAt - up.answeredAt();
        // 16 KiB every 50 ms stays far below the byte bound: the time bound ends it
        expect(heldMs, `${path} chunked=${chunked}`).toBeGreaterThanOrEqual(bounds.maxMs - 100);
        expect(heldMs, `${path} chunked=${chunked}`).toBeLessThan(bounds.maxMs + 3000);
      } finally {
        clearInterval(trickle);
        up.socket.destroy();
      }
    }
  }, 30_000);

  it('a fast endless upload is cut once the byte bound is read, long before the time bound', async () => {
    const up = rawUpload(gw.url, head('/v1/chat/completions', gw.adminKey, 1 << 30));
    const piece = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    const pump = () => {
      while (up.socket.writable && sent < 1 << 30) {
        sent += piece.length;
        if (!up.socket.write(piece)) return void up.socket.once('drain', pump);
      }
    };
    pump();
    try {
      await up.answered;
      expect(up.received()).toMatch(/^HTTP\/1\.1 413 /);
      const closedAt = await up.closed;
      expect(closedAt - up.answeredAt()).toBeLessThan(bounds.maxMs - 500);
      // the server read at least the byte bound before cutting (what sits in socket buffers comes on top)
      expect(sent).toBeGreaterThan(bounds.maxBytes);
    } finally {
      up.socket.destroy();
    }
  }, 30_000);

  it('a body that ends within the bounds leaves the connection open for the next request', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    const up = rawUpload(gw.url, head('/v1/chat/completions', gw.adminKey, big.length));
    up.socket.write(big);
    await up.answered;
    expect(up.received()).toMatch(/^HTTP\/1\.1 413 /);
    const before = up.received().length;
    up.socket.write(`GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n`);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to the second request: ${up.received().slice(before)}`)), 5000);
      up.socket.on('data', () => /HTTP\/1\.1 200 /.test(up.received().slice(before)) && (clearTimeout(t), resolve()));
    });
    up.socket.destroy();
  });
});
