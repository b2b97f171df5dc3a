/*
 * streamResponse on a real HTTP response: a gateway stream that stops without a finish reason (and was not ended by
 * a key change) must still end with a final event, response.failed, so a client does not wait for one forever.
 * @see https://platform.openai.com/docs/api-reference/responses-streaming/response/failed
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChatChunk } from '../../src/gateway/results.js';
import type { RestContext } from '../../src/http/rest/http.js';
import { responseShell } from '../../src/http/rest/responses/response.js';
import { CreateResponseRequest } from '../../src/http/rest/responses/schemas.js';
import { streamResponse } from '../../src/http/rest/responses/stream.js';
import type { Principal } from '../../src/services/keys.js';

const chunk = (index: number, delta: string): ChatChunk => ({ invocationId: 'inv', index, model: 'm', delta, toolCalls: null, finishReason: null, usage: null });

async function* cut(): AsyncIterable<ChatChunk> {
  yield chunk(0, 'Hel');
  yield chunk(1, 'lo');
  // …and then nothing: no finish reason, no error
}

let server: Server;
afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

describe('streamResponse', () => {
  it('a stream ending without a finish reason ends with response.failed, and nothing is stored', async () => {
    let completed = false;
    server = createServer((req, res) => {
      const ctx = { req, res, requestId: 'req-1' } as unknown as RestContext;
      const shell = responseShell(CreateResponseRequest.parse({ model: 'm', input: 'hi' }), 'm', 'resp_1', 0);
      void streamResponse(ctx, cut(), { shell, headers: {}, principal: {} as Principal, complete: async () => void (completed = true) });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const events = (await res.text())
      .split('\n\n')
      .filter((b) => b.includes('data: '))
      .map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)) as { type: string; response?: { status: string; error: { code: string; message: string } } });
    const last = events.at(-1)!;
    expect(last.type).toBe('response.failed');
    expect(last.response).toMatchObject({ status: 'failed', error: { code: 'server_error', message: expect.stringMatching(/ended early/) } });
    expect(completed).toBe(false);
  });
});
