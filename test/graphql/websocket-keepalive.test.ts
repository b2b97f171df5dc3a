/* WS_KEEPALIVE_MS reaches graphql-ws: a socket that stops answering pings is terminated after it, one that answers stays. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { wsUrl } from '../kit/ws.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ WS_KEEPALIVE_MS: '300' });
});
afterAll(async () => {
  await gw?.stop();
});

/** An acknowledged socket; `autoPong: false` leaves the server's pings unanswered. */
function acked(secret: string, autoPong: boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(gw.url), 'graphql-transport-ws', { autoPong });
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${secret}` } })));
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('websocket keep-alive', () => {
  it('terminates a socket whose pong never comes, after about the configured time, and keeps one that answers', async () => {
    const { secret } = await gw.createKey({ name: 'keepalive' });
    const silent = await acked(secret, false);
    const answering = await acked(secret, true);
    const started = Date.now();
    const code = await new Promise<number>((resolve) => silent.on('close', (c) => resolve(c)));
    // a ping after 300 ms, terminated 300 ms later without its pong: no close frame, so 1006
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(answering.readyState).toBe(WebSocket.OPEN);
    answering.close(1000);
  });
});
