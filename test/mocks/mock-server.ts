/* A loopback HTTP server for provider mocks: records every request, lets a test script the answers. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AnyJson } from '../kit/json.js';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The request body as JSON (the raw text when it is not JSON). */
  body: AnyJson;
  /** The request body exactly as received (signature checks need the bytes). */
  raw: string;
  /** Resolves when the client closed the connection before the mock finished answering. */
  closedEarly: Promise<void>;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export interface MockServer {
  url: string;
  requests: RecordedRequest[];
  /** Replace the handler for the next requests (scenario per test). */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

export async function startMockServer(defaultHandler: Handler): Promise<MockServer> {
  let handler = defaultHandler;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: AnyJson = raw;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      /* keep raw text */
    }
    let onClose!: () => void;
    const closedEarly = new Promise<void>((r) => (onClose = r));
    res.on('close', () => {
      if (!res.writableFinished) onClose();
    });
    const rec: RecordedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body, raw, closedEarly };
    requests.push(rec);
    try {
      await handler(rec, res);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(e) } }));
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    handle(h) {
      handler = h;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Writes SSE events with an optional gap between them (to prove chunks are forwarded as they arrive). */
export async function writeSse(
  res: ServerResponse,
  events: Array<{ event?: string; data: string }>,
  opts: { gapMs?: number; cutAfter?: number } = {},
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  for (let i = 0; i < events.length; i++) {
    if (opts.cutAfter !== undefined && i >= opts.cutAfter) {
      res.socket?.destroy();
      return;
    }
    if (res.destroyed) return;
    const ev = events[i];
    res.write(`${ev.event ? `event: ${ev.event}\n` : ''}data: ${ev.data}\n\n`);
    if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
  }
  res.end();
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
