/*
 * callSse / callBytes on undici's dispatcher (src/providers/upstream-body.ts): the body is read only as fast as it
 * is taken, an early stop closes the connection, an abort fails the pending read, an error answer keeps its text and
 * headers, and what arrived before the connection broke is still handed out before the error.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callBytes, callSse, closeUpstreamAgent, type UpstreamCall } from '../../src/providers/http.js';
import { UpstreamError } from '../../src/providers/types.js';
import { Cancellation } from '../../src/util/cancellation.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => res.end();
let server: Server;
let base = '';
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await closeUpstreamAgent();
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const call = (over: Partial<UpstreamCall> = {}): UpstreamCall => ({
  provider: 'mock',
  url: `${base}/v1/stream`,
  headers: {},
  body: { stream: true },
  signal: new Cancellation(),
  timeoutMs: 5000,
  ...over,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
};

describe('callSse on the dispatcher', () => {
  it('yields every event in order, a multi-byte character split across writes included', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const euro = Buffer.from('data: {"t":"€"}\n\n');
      // the € (3 bytes) cut in the middle between two writes
      res.write(euro.subarray(0, 13));
      setTimeout(() => {
        res.write(euro.subarray(13));
        res.end('event: done\ndata: [DONE]\n\n');
      }, 20);
    };
    const got: Array<{ event?: string; data: string }> = [];
    for await (const ev of callSse(call())) got.push({ event: ev.event, data: ev.data });
    expect(got).toEqual([
      { event: undefined, data: '{"t":"€"}' },
      { event: 'done', data: '[DONE]' },
    ]);
  });

  it('reads no further than asked: a consumer that stops reading leaves the rest with the server, not in memory', async () => {
    let written = 0;
    let blocked = false;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const line = `data: ${'x'.repeat(16 * 1024)}\n\n`;
      const pump = () => {
        while (written < 2000) {
          written++;
          if (!res.write(line)) {
            blocked = true;
            return void res.once('drain', () => {
              blocked = false;
              pump();
            });
          }
        }
        res.end();
      };
      pump();
    };
    const it = callSse(call());
    const first = await it.next();
    expect(first.done).toBe(false);
    // the server is told to wait (its writes back up) long before it wrote its 32 MB
    await until(() => blocked);
    await sleep(100);
    const stalledAt = written;
    expect(stalledAt).toBeLessThan(1000);
    // reading again lets it go on
    for (let i = 0; i < 200; i++) await it.next();
    await until(() => written > stalledAt);
    await it.return!();
  });

  it('return() while a read is pending ends the read and closes the upstream connection', async () => {
    let closed = false;
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      req.socket.on('close', () => (closed = true));
    };
    const it = callSse(call());
    expect((await it.next()).value?.data).toBe('one');
    const pending = it.next();
    await sleep(20);
    await it.return!();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    await until(() => closed);
  });

  it('an abort fails the pending read as an aborted request, and closes the connection', async () => {
    let closed = false;
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      req.socket.on('close', () => (closed = true));
    };
    const signal = new Cancellation();
    const it = callSse(call({ signal }));
    await it.next();
    const pending = it.next();
    signal.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).message).toBe('mock: request aborted');
    expect((err as UpstreamError).retryable).toBe(false);
    await until(() => closed);
    await expect(it.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('an abort before the headers came fails the first read the same way', async () => {
    handler = () => {
      /* never answers */
    };
    const signal = new Cancellation();
    const it = callSse(call({ signal }));
    const pending = it.next();
    await sleep(30);
    signal.abort();
    await expect(pending).rejects.toMatchObject({ message: 'mock: request aborted' });
  });

  it('an error answer is an UpstreamError with the provider message and the retry hint from its headers', async () => {
    handler = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ error: { message: 'slow down' } }));
    };
    const err = await callSse(call())
      .next()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ status: 429, retryable: true, retryAfterMs: 7000, message: 'mock returned 429: slow down' });
  });

  it('events that arrived before the connection broke are handed out first, then a retryable error', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\ndata: two\n\n');
      setTimeout(() => res.socket?.destroy(), 30);
    };
    const it = callSse(call());
    expect((await it.next()).value?.data).toBe('one');
    expect((await it.next()).value?.data).toBe('two');
    const err = await it.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).retryable).toBe(true);
  });

  it('callBytes hands the raw body over and a finished stream frees its connection for the next call', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from([1, 2, 3]));
    };
    const before = connections;
    const bytes: number[] = [];
    for await (const b of callBytes(call())) bytes.push(...b);
    expect(bytes).toEqual([1, 2, 3]);
    // the pool marks the connection free once undici has finished with the response, a turn of the loop later
    await new Promise((r) => setImmediate(r));
    for await (const b of callBytes(call())) bytes.push(...b);
    expect(bytes).toEqual([1, 2, 3, 1, 2, 3]);
    // kept alive and reused: one connection for both
    expect(connections - before).toBe(1);
  });
});
