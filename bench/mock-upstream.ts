/*
 * A local OpenAI-format upstream for the benchmarks: POST …/chat/completions answers a chat completion,
 * as one JSON body or (stream: true) as SSE chunks. Runs in its own process so it never shares an event
 * loop with what is measured.
 *
 * - tokens: the request's max_tokens (or max_completion_tokens), default 16
 * - gap between streamed tokens: `-gap-<ms>` in the model name (e.g. "mock-gap-50"), else MOCK_GAP_MS (default 1);
 *   the first token goes out at once, so time to first token is the round trip itself
 * - a non-streamed answer waits `-delay-<ms>` (in the model name, e.g. "mock-delay-200") before it is sent; default 0
 * - GET /stats: requests served, streams open now and at most; POST /stats/reset zeroes the maximum
 *
 * Prints one JSON line {"ready":true,"port":…,"extraPorts":[…]} on stdout when listening (MOCK_PORT, default 0 =
 * any free port). MOCK_EXTRA_PORTS=N also serves the same mock on N more free ports: separate origins, so a
 * client's per-origin connection pool can be measured apart from everything else.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const DEFAULT_GAP_MS = Number(process.env.MOCK_GAP_MS ?? 1);
const CREATED = Math.floor(Date.now() / 1000);

let requests = 0;
let streamsOpen = 0;
let maxStreamsOpen = 0;

interface ChatBody {
  model?: string;
  stream?: boolean;
  max_tokens?: number;
  max_completion_tokens?: number;
  stream_options?: { include_usage?: boolean };
  messages?: Array<{ content?: unknown }>;
}

const completionCache = new Map<string, Buffer>();

function tokenText(i: number): string {
  return `tok${i} `;
}

function completionBody(model: string, tokens: number): Buffer {
  const key = `${model}\0${tokens}`;
  let buf = completionCache.get(key);
  if (!buf) {
    let content = '';
    for (let i = 0; i < tokens; i++) content += tokenText(i);
    buf = Buffer.from(
      JSON.stringify({
        id: 'chatcmpl-mock',
        object: 'chat.completion',
        created: CREATED,
        model,
        system_fingerprint: 'fp_mock',
        choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 12, completion_tokens: tokens, total_tokens: 12 + tokens },
      }),
    );
    completionCache.set(key, buf);
  }
  return buf;
}

function chunk(model: string, delta: Record<string, unknown>, finish: string | null, usage: unknown = null, empty = false): string {
  const payload = {
    id: 'chatcmpl-mock',
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    system_fingerprint: 'fp_mock',
    choices: empty ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    usage,
  };
  return `data: ${JSON.stringify(payload)}\n\n`;
}

function gapFor(model: string): number {
  const m = /-gap-(\d+(?:\.\d+)?)/.exec(model);
  return m ? Number(m[1]) : DEFAULT_GAP_MS;
}

function stream(res: ServerResponse, body: ChatBody, model: string, tokens: number): void {
  const gap = gapFor(model);
  const includeUsage = body.stream_options?.include_usage === true;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  streamsOpen++;
  if (streamsOpen > maxStreamsOpen) maxStreamsOpen = streamsOpen;
  let i = 0;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    streamsOpen--;
    if (timer) clearTimeout(timer);
  };
  res.on('close', finish);
  const next = () => {
    if (done) return;
    if (i < tokens) {
      // the first chunk carries the role too, like OpenAI's
      const delta = i === 0 ? { role: 'assistant', content: tokenText(i) } : { content: tokenText(i) };
      res.write(chunk(model, delta, null));
      i++;
      timer = setTimeout(next, gap);
      return;
    }
    let tail = chunk(model, {}, 'stop');
    if (includeUsage) tail += chunk(model, {}, null, { prompt_tokens: 12, completion_tokens: tokens, total_tokens: 12 + tokens }, true);
    tail += 'data: [DONE]\n\n';
    res.end(tail);
    finish();
  };
  next();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ requests, streamsOpen, maxStreamsOpen }));
    return;
  }
  if (req.method === 'POST' && path === '/stats/reset') {
    maxStreamsOpen = streamsOpen;
    res.writeHead(204);
    res.end();
    return;
  }
  if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `mock: no route ${req.method} ${path}`, type: 'invalid_request_error' } }));
    return;
  }
  let body: ChatBody;
  try {
    body = JSON.parse(await readBody(req)) as ChatBody;
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'mock: body is not JSON', type: 'invalid_request_error' } }));
    return;
  }
  requests++;
  const model = typeof body.model === 'string' ? body.model : 'mock';
  const tokens = Math.max(1, Math.min(100_000, Number(body.max_tokens ?? body.max_completion_tokens ?? 16) || 16));
  if (body.stream) {
    stream(res, body, model, tokens);
    return;
  }
  const buf = completionBody(model, tokens);
  const delay = /-delay-(\d+)/.exec(model);
  if (delay) await new Promise((r) => setTimeout(r, Number(delay[1])));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': buf.length });
  res.end(buf);
}

function listen(port: number): Promise<Server> {
  const server = createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, process.env.MOCK_HOST ?? '127.0.0.1', () => resolve(server));
  });
}

const portOf = (s: Server) => (s.address() as AddressInfo).port;
const main = await listen(Number(process.env.MOCK_PORT ?? 0));
const extra = await Promise.all(Array.from({ length: Number(process.env.MOCK_EXTRA_PORTS ?? 0) }, () => listen(0)));
const servers = [main, ...extra];
process.stdout.write(`${JSON.stringify({ ready: true, port: portOf(main), extraPorts: extra.map(portOf), pid: process.pid })}\n`);

const stop = () => {
  let open = servers.length;
  for (const s of servers) {
    s.close(() => --open === 0 && process.exit(0));
    s.closeAllConnections();
  }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
