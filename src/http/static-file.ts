/* A file the gateway serves itself (GraphiQL's, the console's): compressed once on demand, picked by accept-encoding. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';

type Encoding = 'br' | 'gzip';

export interface StaticFile {
  contentType: string;
  body: Buffer;
  /** Compressed once, on first demand, off the event loop (zlib's thread pool). */
  encoded(encoding: Encoding): Promise<Buffer>;
}

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

function compress(body: Buffer, encoding: Encoding): Promise<Buffer> {
  // quality 6: close to the best size in far less time than the best (it runs once per process)
  if (encoding === 'br') return brotli(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 6, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } });
  return gzipAsync(body, { level: 9 });
}

export function createStaticFile(contentType: string, body: Buffer): StaticFile {
  const done = new Map<Encoding, Promise<Buffer>>();
  return {
    contentType,
    body,
    encoded(encoding) {
      let p = done.get(encoding);
      if (!p) {
        p = compress(body, encoding);
        done.set(encoding, p);
      }
      return p;
    },
  };
}

/** br if accepted, else gzip, else none (q=0 refuses a coding; `*` stands for any not named). */
function pickEncoding(acceptEncoding: string | undefined): Encoding | undefined {
  if (!acceptEncoding) return undefined;
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qParam ? Number(qParam.slice(2)) : 1;
    if (name) q.set(name, Number.isFinite(value) ? value : 0);
  }
  const accepts = (coding: string) => (q.get(coding) ?? q.get('*') ?? 0) > 0;
  if (accepts('br')) return 'br';
  if (accepts('gzip')) return 'gzip';
  return undefined;
}

/** Answers GET or HEAD with the file, compressed when the client accepts it. */
export async function sendStaticFile(req: IncomingMessage, res: ServerResponse, file: StaticFile, headers: Record<string, string>): Promise<void> {
  const encoding = pickEncoding(req.headers['accept-encoding']);
  const body = encoding ? await file.encoded(encoding) : file.body;
  res.writeHead(200, {
    ...headers,
    'content-type': file.contentType,
    'content-length': body.length,
    vary: 'accept-encoding',
    'x-content-type-options': 'nosniff',
    ...(encoding ? { 'content-encoding': encoding } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** 405 unless GET or HEAD; true when it answered. */
export function refuseUnlessRead(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
  res.end('method not allowed\n');
  return true;
}
