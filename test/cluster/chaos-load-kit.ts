/*
 * The chaos test's load and its bookkeeping: workers that call the gateway one call after another (GraphQL chat over
 * HTTP, REST chat completions unary and streamed, chatStream over graphql-ws), a record of every call (when it started
 * and ended, how it ended, the invocation id of a successful answer), the set of calls in flight at any moment, and
 * the pure checks the test asserts on (records per answer, admissions per rate-limit window, failures outside the
 * calls a kill may cut).
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { readSse } from '../kit/sse.js';
import { wsUrl } from '../kit/ws.js';
import { sleep } from '../limits/kit.js';

type CallKind = 'graphql' | 'rest' | 'rest-stream' | 'ws-stream';
type KeyName = 'free' | 'limited';

export interface Call {
  kind: CallKind;
  key: KeyName;
  startedAt: number;
  endedAt?: number;
  /** ok: a successful answer; limited: refused with RATE_LIMITED (429); failed: anything else the client saw. */
  outcome?: 'ok' | 'limited' | 'failed';
  /** The invocation id of a successful answer: the id of its usage record. */
  invocationId?: string;
  /** What a failed call saw (HTTP status and error code, connection error, close code, cut stream). */
  detail?: string;
  /** The instance that answered (HAProxy's x-gateway-instance header; HTTP calls only). */
  servedBy?: string;
  /** graphql-ws calls: when the socket the call went out on opened. */
  socketOpenedAt?: number;
}

type Ended = Pick<Call, 'outcome' | 'invocationId' | 'detail' | 'servedBy'>;

const servedBy = (res: Response) => res.headers.get('x-gateway-instance') ?? undefined;

interface LoadOptions {
  /** The load balancer's base URL. */
  url: string;
  model: string;
  secrets: Record<KeyName, string>;
  workers: Array<{ kind: CallKind; key: KeyName }>;
  /** Pause between a worker's calls, so 2 cores still leave the load balancer's health checks on time. */
  thinkMs: number;
  /** Pause after a refusal (429s are answered at once; a worker must not spin on them). */
  limitedPauseMs: number;
  /** A call not finished by then counts as failed. */
  callTimeoutMs?: number;
}

export interface Load {
  calls: Call[];
  /** Calls started and not yet ended. */
  inFlight: Set<Call>;
  /** Lets every worker finish its current call, then stops. */
  stop(): Promise<void>;
}

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id } }';
const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { invocationId delta finishReason } }';

const errorText = (e: unknown): string => {
  const err = e as { cause?: { code?: string; message?: string }; code?: string; name?: string; message?: string };
  return err.cause?.code ?? err.cause?.message ?? err.code ?? (err.name === 'TimeoutError' ? 'timeout' : String(err.message ?? e));
};

async function graphqlChat(o: LoadOptions, secret: string, text: string): Promise<Ended> {
  const res = await fetch(`${o.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ query: CHAT, variables: { input: { model: o.model, messages: [{ role: 'USER', content: text }] } } }),
    signal: AbortSignal.timeout(o.callTimeoutMs ?? 30_000),
  });
  const by = servedBy(res);
  const raw = await res.text();
  let body: { data?: { chat?: { id: string } } | null; errors?: Array<{ extensions?: { code?: string } }> } | undefined;
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    // HAProxy's own error pages are HTML
  }
  if (res.status === 200 && body?.data?.chat?.id) return { outcome: 'ok', invocationId: body.data.chat.id, servedBy: by };
  const code = body?.errors?.[0]?.extensions?.code;
  if (code === 'RATE_LIMITED') return { outcome: 'limited', servedBy: by };
  return { outcome: 'failed', detail: `HTTP ${res.status} ${code ?? raw.slice(0, 80).replace(/\s+/g, ' ')}`, servedBy: by };
}

const restId = (id: unknown) => (typeof id === 'string' && id.startsWith('chatcmpl-') ? id.slice('chatcmpl-'.length) : undefined);

async function restChat(o: LoadOptions, secret: string, text: string, stream: boolean): Promise<Ended> {
  const res = await fetch(`${o.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model: o.model, messages: [{ role: 'user', content: text }], ...(stream ? { stream: true } : {}) }),
    signal: AbortSignal.timeout(o.callTimeoutMs ?? 30_000),
  });
  const by = servedBy(res);
  if (res.status === 429) {
    await res.body?.cancel();
    return { outcome: 'limited', servedBy: by };
  }
  if (res.status !== 200 || !res.body) {
    const raw = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(raw) as { error?: { code?: string } }).error?.code;
    } catch {
      // not the gateway's JSON (HAProxy's error page)
    }
    return { outcome: 'failed', detail: `HTTP ${res.status} ${code ?? raw.slice(0, 80).replace(/\s+/g, ' ')}`, servedBy: by };
  }
  if (!stream) {
    const id = restId(((await res.json()) as { id?: string }).id);
    return id ? { outcome: 'ok', invocationId: id, servedBy: by } : { outcome: 'failed', detail: 'answer without id', servedBy: by };
  }
  let id: string | undefined;
  try {
    for await (const e of readSse(res.body)) {
      if (e.data === '[DONE]') return id ? { outcome: 'ok', invocationId: id, servedBy: by } : { outcome: 'failed', detail: 'stream without id', servedBy: by };
      const chunk = JSON.parse(e.data) as { id?: string; error?: { code?: string } };
      if (chunk.error) return { outcome: 'failed', detail: `in-stream error ${chunk.error.code}`, servedBy: by };
      id ??= restId(chunk.id);
    }
  } catch (e) {
    return { outcome: 'failed', detail: `cut stream: ${errorText(e)}`, servedBy: by };
  }
  return { outcome: 'failed', detail: 'cut stream: ended without [DONE]', servedBy: by };
}

/**
 * One graphql-ws client per worker, never retrying: a socket that closes fails the stream on it (a half-done stream
 * is never re-subscribed, which would answer it twice) and the next call opens a new client.
 */
class WsWorkerClient {
  private client?: Client;
  private openedAt = 0;
  constructor(
    private readonly url: string,
    private readonly secret: string,
  ) {}

  private current(): Client {
    this.client ??= createClient({
      url: wsUrl(this.url),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.secret}` },
      retryAttempts: 0,
      lazy: true,
      // the socket stays open between the worker's calls, as a long-lived client's would
      lazyCloseTimeout: 60_000,
      on: { opened: () => (this.openedAt = Date.now()) },
    });
    return this.client;
  }

  async stream(o: LoadOptions, text: string, call: Call): Promise<Ended> {
    const client = this.current();
    let id: string | undefined;
    let finished = false;
    let code: string | undefined;
    const ended = await new Promise<Ended>((resolve) => {
      const timer = setTimeout(() => {
        dispose();
        resolve({ outcome: 'failed', detail: 'timeout' });
      }, o.callTimeoutMs ?? 30_000);
      const dispose = client.subscribe<{ chatStream: { invocationId: string; finishReason: string | null } }>(
        { query: STREAM, variables: { input: { model: o.model, messages: [{ role: 'USER', content: text }] } } },
        {
          next: (r) => {
            if (r.errors?.length) code ??= String((r.errors[0].extensions as { code?: string } | undefined)?.code ?? r.errors[0].message);
            if (r.data?.chatStream) {
              id ??= r.data.chatStream.invocationId;
              if (r.data.chatStream.finishReason) finished = true;
            }
          },
          error: (e) => {
            clearTimeout(timer);
            const ev = e as { code?: number; reason?: string };
            resolve({ outcome: 'failed', detail: typeof ev.code === 'number' ? `ws closed ${ev.code} ${ev.reason ?? ''}`.trim() : `ws error ${errorText(e)}` });
          },
          complete: () => {
            clearTimeout(timer);
            if (code === 'RATE_LIMITED') resolve({ outcome: 'limited' });
            else if (code) resolve({ outcome: 'failed', detail: `stream error ${code}` });
            else if (finished && id) resolve({ outcome: 'ok', invocationId: id });
            else resolve({ outcome: 'failed', detail: 'cut stream: completed without finishReason' });
          },
        },
      );
    });
    call.socketOpenedAt = this.openedAt || undefined;
    if (ended.outcome === 'failed') await this.reset();
    return ended;
  }

  async reset(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.openedAt = 0;
    await c?.dispose();
  }
}

export function startLoad(o: LoadOptions): Load {
  const calls: Call[] = [];
  const inFlight = new Set<Call>();
  let stopped = false;
  let n = 0;

  const worker = async (kind: CallKind, key: KeyName) => {
    const secret = o.secrets[key];
    const ws = kind === 'ws-stream' ? new WsWorkerClient(o.url, secret) : undefined;
    while (!stopped) {
      const text = `chaos call ${n++} from a ${kind} worker`;
      const call: Call = { kind, key, startedAt: Date.now() };
      calls.push(call);
      inFlight.add(call);
      let ended: Ended;
      try {
        if (kind === 'graphql') ended = await graphqlChat(o, secret, text);
        else if (kind === 'rest' || kind === 'rest-stream') ended = await restChat(o, secret, text, kind === 'rest-stream');
        else ended = await ws!.stream(o, text, call);
      } catch (e) {
        ended = { outcome: 'failed', detail: errorText(e) };
      }
      Object.assign(call, ended, { endedAt: Date.now() });
      inFlight.delete(call);
      await sleep(ended.outcome === 'limited' ? o.limitedPauseMs : o.thinkMs);
    }
    await ws?.reset();
  };

  const running = o.workers.map((w) => worker(w.kind, w.key));
  return {
    calls,
    inFlight,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/** Calls by kind and key: started, ok, limited, failed. */
export function tallyCalls(calls: Call[]): Array<{ kind: CallKind; key: KeyName; calls: number; ok: number; limited: number; failed: number }> {
  const rows = new Map<string, { kind: CallKind; key: KeyName; calls: number; ok: number; limited: number; failed: number }>();
  for (const c of calls) {
    const k = `${c.kind}/${c.key}`;
    const row = rows.get(k) ?? { kind: c.kind, key: c.key, calls: 0, ok: 0, limited: 0, failed: 0 };
    row.calls++;
    if (c.outcome) row[c.outcome]++;
    rows.set(k, row);
  }
  return [...rows.values()];
}

export interface RecordRow {
  id: string;
  status: string;
  apiKeyId: string | null;
  createdAt: Date;
}

/** Successful answers without exactly one usage record, or whose record is not OK. */
export function answersWithoutOneOkRecord(calls: Call[], records: RecordRow[]): { missing: Call[]; duplicated: string[]; notOk: Array<{ id: string; status: string }> } {
  const byId = new Map<string, RecordRow[]>();
  for (const r of records) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  const missing: Call[] = [];
  const duplicated: string[] = [];
  const notOk: Array<{ id: string; status: string }> = [];
  for (const c of calls) {
    if (c.outcome !== 'ok') continue;
    const mine = c.invocationId ? (byId.get(c.invocationId) ?? []) : [];
    if (mine.length === 0) missing.push(c);
    else if (mine.length > 1) duplicated.push(c.invocationId!);
    else if (mine[0].status !== 'OK') notOk.push({ id: c.invocationId!, status: mine[0].status });
  }
  return { missing, duplicated, notOk };
}

interface RateWindow {
  start: number;
  admitted: number;
}

/**
 * A key's fixed rate-limit windows rebuilt from the start times of its admitted calls: the first admission opens a
 * window of `windowMs`, the first one after it ends opens the next. A record's created_at is when its invocation
 * started, a little before the limiter admitted it, so a call started within `slackMs` of a full window's end may
 * have been admitted in the next one: it opens that one instead of overfilling this one.
 */
export function rateWindows(admittedAt: number[], limit: number, windowMs = 60_000, slackMs = 500): RateWindow[] {
  const windows: RateWindow[] = [];
  for (const t of [...admittedAt].sort((a, b) => a - b)) {
    const w = windows.at(-1);
    const ended = !w || t >= w.start + windowMs || (w.admitted >= limit && t >= w.start + windowMs - slackMs);
    if (ended) windows.push({ start: t, admitted: 1 });
    else w.admitted++;
  }
  return windows;
}

/**
 * Failed calls that a SIGKILL of one instance at `at` does not account for. A call may fail for the kill when it was
 * in flight then (`inFlightAtKill`), or started before the process was seen to exit (`exitedAt`: until the kernel has
 * closed a dying process's listening socket it still accepts connections, which then break without an answer — not
 * a connection failure the load balancer may retry, as the request did reach an instance), or went out on a
 * graphql-ws socket opened before the kill. Either way it must have ended within `graceMs` of the kill (the
 * instance's sockets close at once), and if the answer's headers said which instance served it, that must be the
 * killed one.
 */
export function failuresNotFromKill(
  calls: Call[],
  kill: { at: number; exitedAt: number; instance: string; inFlightAtKill: Set<Call>; graceMs: number },
): { excused: Call[]; unexcused: Call[] } {
  const excused: Call[] = [];
  const unexcused: Call[] = [];
  for (const c of calls) {
    if (c.outcome !== 'failed') continue;
    const onOldSocket = c.kind === 'ws-stream' && c.socketOpenedAt !== undefined && c.socketOpenedAt < kill.at;
    const atKill =
      (kill.inFlightAtKill.has(c) || c.startedAt <= kill.exitedAt || onOldSocket) && (c.endedAt ?? Infinity) <= kill.at + kill.graceMs && (c.servedBy === undefined || c.servedBy === kill.instance);
    (atKill ? excused : unexcused).push(c);
  }
  return { excused, unexcused };
}
