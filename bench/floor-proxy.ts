/*
 * The floor baseline: the least a gateway that understands the request must do, with nothing else.
 * It reads and JSON-parses the OpenAI chat body, builds a new upstream body from it, sends it with undici
 * (the gateway's HTTP client, same keep-alive pool settings), parses the upstream JSON and writes a new
 * response from it. No auth, no limits, no usage records, no GraphQL, no logging, no metrics.
 *
 * The distance between the thin proxy and this one is the price of reading the traffic at all; the distance
 * between this one and the gateway is what the gateway's features cost.
 *
 * Prints one JSON line {"ready":true,"port":…} on stdout when listening (PROXY_PORT, default 0 = any free port).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';

const upstream = new URL(process.env.UPSTREAM ?? 'http://127.0.0.1:4010');
const dispatcher = new Agent({ connections: null, keepAliveTimeout: 30_000, pipelining: 1 });

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

const server = createServer(async (req, res) => {
  try {
    const body = await readJson(req);
    const upBody = JSON.stringify({ model: body.model, messages: body.messages, max_tokens: body.max_tokens, stream: false });
    const up = await dispatcher.request({
      origin: upstream.origin,
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer upstream-key' },
      body: upBody,
    });
    const data = (await up.body.json()) as {
      id: string;
      choices: { message: { role: string; content: string }; finish_reason: string }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    const out = JSON.stringify({
      id: data.id,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: data.choices.map((c, index) => ({ index, message: { role: 'assistant', content: c.message.content }, finish_reason: c.finish_reason })),
      usage: data.usage,
    });
    res.writeHead(up.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  } catch (err) {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `floor-proxy: ${(err as Error).message}` } }));
  }
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

server.listen(Number(process.env.PROXY_PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ ready: true, port, pid: process.pid })}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
