/*
 * An OTLP/HTTP trace receiver for the benches, in the bench's own process: accepts POST /v1/traces and answers 200 at
 * once, counting the spans it receives, so a bench can give spans/s and check that the spans arrived.
 *
 * Every body is counted (a scan for each span's `"startTimeUnixNano"`, which only spans carry in OTLP JSON); only a
 * sample of the bodies is parsed for span names, so that the receiver takes little of the CPU the bench shares with
 * the gateway. A protobuf body (not what the gateway's exporter sends) is counted in bytes only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface OtlpSink {
  /** the base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds /v1/traces) */
  url: string;
  /** spans received so far */
  spans(): number;
  /** export requests received so far, and those that were not JSON (their spans are not counted) */
  posts(): { total: number; notJson: number; bytes: number };
  /** span names seen in the parsed sample, with their share of the sample's spans */
  nameShares(): Map<string, number>;
  close(): Promise<void>;
}

/** One body in this many is parsed for names (the first ones always). */
const PARSE_EVERY = 10;
const PARSE_FIRST = 20;
const SPAN_MARK = '"startTimeUnixNano"';

interface OtlpJson {
  resourceSpans?: { scopeSpans?: { spans?: { name?: string }[] }[] }[];
}

function countMarks(text: string): number {
  let n = 0;
  for (let i = text.indexOf(SPAN_MARK); i !== -1; i = text.indexOf(SPAN_MARK, i + SPAN_MARK.length)) n++;
  return n;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let spans = 0;
  let total = 0;
  let notJson = 0;
  let bytes = 0;
  let parsedSpans = 0;
  const names = new Map<string, number>();

  const receive = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    total++;
    bytes += body.length;
    const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
    if (!String(req.headers['content-type'] ?? '').includes('json')) {
      notJson++;
    } else {
      const text = raw.toString('utf8');
      spans += countMarks(text);
      if (total <= PARSE_FIRST || total % PARSE_EVERY === 0) {
        const j = JSON.parse(text) as OtlpJson;
        for (const rs of j.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? []) {
              parsedSpans++;
              names.set(s.name ?? '(none)', (names.get(s.name ?? '(none)') ?? 0) + 1);
            }
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  };

  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        receive(req, Buffer.concat(chunks), res);
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => spans,
    posts: () => ({ total, notJson, bytes }),
    nameShares: () => new Map([...names].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / parsedSpans])),
    close: () => new Promise<void>((res) => {
      server.close(() => res());
      server.closeAllConnections();
    }),
  };
}
