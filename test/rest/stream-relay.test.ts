/*
 * relayStream, the rules every streamed REST answer shares: a failure before the first chunk keeps its HTTP status
 * (leading ERROR chunks skipped), a listed session ended by a key change reaches the surface's end, and a failure
 * after the start is the surface's in-stream error.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import type { ChatChunk } from '../../src/gateway/results.js';
import type { RestContext } from '../../src/http/rest/http.js';
import { relayStream } from '../../src/http/rest/stream-relay.js';
import type { OpenSession } from '../../src/http/open-sessions.js';
import type { Principal } from '../../src/services/keys.js';

const chunk = (index: number, delta: string, finishReason: ChatChunk['finishReason'] = null): ChatChunk => ({ invocationId: 'inv', index, model: 'm', delta, toolCalls: null, finishReason, usage: null });

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** Serves one request through relayStream with a surface that writes what it is told as plain events. */
async function run(stream: () => AsyncIterable<ChatChunk>, onSession?: (s: OpenSession) => void): Promise<{ status: number; body: string }> {
  server = createServer((req, res) => {
    const sessions = { add: (s: OpenSession) => (onSession?.(s), () => {}) };
    const ctx = { req, res, requestId: 'r', sessions } as unknown as RestContext;
    void relayStream(ctx, stream(), {
      headers: {},
      principal: {} as Principal,
      model: 'm',
      sendError: (err) => res.writeHead(418).end(String((err as Error).message)),
      open: (first, sse) => ({
        start: async () => void (await sse.send(`start ${first.invocationId}`)),
        chunk: async (c) => void (await sse.send(`chunk ${c.delta}`)),
        end: async (endedBy) => void (await sse.send(`end ${endedBy?.code ?? '-'}`)),
        error: async (err) => void (await sse.send(`error ${(err as Error).message}`)),
      }),
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  return { status: res.status, body: await res.text() };
}

const lines = (body: string) => body.split('\n\n').filter(Boolean).map((b) => b.replace(/^data: /, ''));

describe('relayStream', () => {
  it('a failure after only ERROR chunks is answered with its status, nothing streamed', async () => {
    const r = await run(async function* () {
      yield chunk(0, '', 'ERROR');
      throw new Error('no target answered');
    });
    expect(r).toEqual({ status: 418, body: 'no target answered' });
  });

  it('streams start, the chunks (not ERROR ones), then end; a later failure is the surface\'s error event', async () => {
    const ok = await run(async function* () {
      yield chunk(0, 'a');
      yield chunk(1, '', 'ERROR');
      yield chunk(2, 'b', 'STOP');
    });
    expect(ok.status).toBe(200);
    expect(lines(ok.body)).toEqual(['start inv', 'chunk a', 'chunk b', 'end -']);
    const failed = await run(async function* () {
      yield chunk(0, 'a');
      throw new Error('cut');
    });
    expect(lines(failed.body)).toEqual(['start inv', 'chunk a', 'error cut']);
  });

  it('a key change ending the listed session reaches end with its error', async () => {
    let session: OpenSession | undefined;
    const r = await run(
      async function* () {
        yield chunk(0, 'a');
        // ended while the next chunk is on its way: that one still arrives, nothing after it
        session!.end(new GatewayError('FORBIDDEN', 'model no longer allowed', {}));
        yield chunk(1, 'b');
        yield chunk(2, 'c');
      },
      (s) => (session = s),
    );
    expect(session?.args).toEqual({ input: { model: 'm' } });
    expect(lines(r.body)).toEqual(['start inv', 'chunk a', 'chunk b', 'end FORBIDDEN']);
  });
});
