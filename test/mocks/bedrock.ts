/**
 * A loopback Amazon Bedrock runtime speaking the real wire format: Converse (`POST /model/{modelId}/converse`,
 * JSON) and ConverseStream (`POST /model/{modelId}/converse-stream`, binary application/vnd.amazon.eventstream
 * with `:event-type`, `:content-type`, `:message-type` headers on each message, exceptions as
 * `:message-type: exception` messages), scriptable per test.
 *
 * Like AWS it checks the SigV4 signature of every request, recomputed here by hand with node:crypto (canonical
 * request, string to sign, HMAC key chain — not with the @smithy signer the adapter uses), and answers a wrong
 * secret, a tampered body or path, an unknown key, a wrong region or an expired date with 403.
 *
 * ```ts
 * const mock = await startBedrockMock();                 // credentials: BEDROCK_MOCK_CREDENTIAL, region us-east-1
 * adapterOpts = { baseUrl: mock.url, apiKey: BEDROCK_MOCK_CREDENTIAL, settings: { region: 'us-east-1' } };
 * mock.reply({ text: 'Hi there', usage: { input: 30, output: 2, cachedRead: 20 } });
 * mock.replyOnce({ fail: { status: 429 } });               // ThrottlingException, next request only
 * mock.reply({ streamException: { type: 'modelStreamErrorException', message: 'boom' } });
 * mock.reply({ splitEvents: true });                        // each event message written in two TCP chunks
 * ```
 *
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html (the algorithm step by step)
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { ConformanceMock, ConformanceReply } from '../providers/conformance/types.js';
import { sendJson, startMockServer, type RecordedRequest } from './mock-server.js';

export const BEDROCK_MOCK_REGION = 'us-east-1';
/** AWS's documentation example key pair. */
export const BEDROCK_MOCK_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
export const BEDROCK_MOCK_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
/** The provider credential the adapter takes: `accessKeyId:secretAccessKey`. */
export const BEDROCK_MOCK_CREDENTIAL = `${BEDROCK_MOCK_ACCESS_KEY_ID}:${BEDROCK_MOCK_SECRET}`;

export interface BedrockMockCredential {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, requests must carry it in a signed x-amz-security-token header. */
  sessionToken?: string;
}

interface BedrockMockReply extends ConformanceReply {
  /** @default 'tool_use' with tool calls, else 'end_turn' */
  stopReason?: string;
  /** Reasoning block before the text (Claude extended thinking on Bedrock). */
  reasoning?: { text: string; signature?: string } | { redacted: string };
  /** The error name (x-amzn-errortype) of a `fail`. @default by status (429 ThrottlingException, …) */
  failType?: string;
  /** Stream: an exception message (e.g. modelStreamErrorException) after this many events (default after the first text). */
  streamException?: { type: string; message: string; afterEvents?: number };
  /** Stream: write each event message in two TCP chunks, split mid-message, with a pause between them. */
  splitEvents?: boolean;
  /** Stream: leave out the metadata event (usage). */
  noMetadata?: boolean;
}

export interface BedrockMock extends ConformanceMock {
  reply(r: BedrockMockReply): void;
  replyOnce(r: BedrockMockReply): void;
  last(): RecordedRequest;
  /** Why the last rejected signature was rejected (for test diagnostics). */
  lastSignatureError?: string;
}

/**
 * The error name Bedrock sends for each status.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors
 */
const ERROR_TYPES: Record<number, string> = {
  400: 'ValidationException',
  // Bedrock answers a bad key with 403; a scripted 401 gets the same name
  401: 'UnrecognizedClientException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  408: 'ModelTimeoutException',
  424: 'ModelErrorException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

const DEFAULT_TEXT = 'Hello from the mock.';
const codec = new EventStreamCodec(toUtf8, fromUtf8);

export async function startBedrockMock(
  opts: { region?: string; credentials?: BedrockMockCredential[] } = {},
): Promise<BedrockMock> {
  const region = opts.region ?? BEDROCK_MOCK_REGION;
  const credentials = opts.credentials ?? [{ accessKeyId: BEDROCK_MOCK_ACCESS_KEY_ID, secretAccessKey: BEDROCK_MOCK_SECRET }];
  let current: BedrockMockReply = {};
  const queue: BedrockMockReply[] = [];
  const mock = {} as BedrockMock;
  const server = await startMockServer(async (req, res) => {
    const reply = queue.shift() ?? current;
    if (reply.hang) return void (await req.closedEarly);
    const route = /^\/model\/([^/?]+)\/(converse|converse-stream)$/.exec(req.path);
    if (req.method !== 'POST' || !route) return sendError(res, 404, 'UnknownOperationException', `Unknown operation ${req.method} ${req.path}`);
    const sig = verifySignature(req, credentials, region);
    if (sig) {
      mock.lastSignatureError = sig.why;
      return sendError(res, 403, sig.type, sig.message);
    }
    const invalid = validate(req);
    if (invalid) return sendError(res, 400, 'ValidationException', invalid);
    if (reply.fail) {
      const { status, message, retryAfterSeconds } = reply.fail;
      const headers: Record<string, string> = retryAfterSeconds !== undefined ? { 'retry-after': String(retryAfterSeconds) } : {};
      return sendError(res, status, reply.failType ?? ERROR_TYPES[status] ?? 'InternalServerException', message ?? `Mock error ${status}`, headers);
    }
    if (route[2] === 'converse') return sendJson(res, 200, converseBody(reply), { 'x-amzn-requestid': randomUUID() });
    return streamReply(req, res, reply);
  });
  return Object.assign(mock, {
    url: server.url,
    requests: server.requests,
    close: () => server.close(),
    reply(r: BedrockMockReply) {
      current = r;
    },
    replyOnce(r: BedrockMockReply) {
      queue.push(r);
    },
    last() {
      const r = server.requests[server.requests.length - 1];
      if (!r) throw new Error('bedrock mock: no request recorded');
      return r;
    },
  });
}

/** AWS JSON protocol errors: the name in `x-amzn-errortype`, `{ message }` in the body. */
function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { message }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': randomUUID(), ...headers });
}

// ---- SigV4, by hand -------------------------------------------------------------------------------------------

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4 wants (UTF-8, upper-case hex). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

export interface SigV4Input {
  method: string;
  /** The path as sent on the wire (percent-encoded), without the query. */
  path: string;
  /** The raw query string without '?'. */
  query: string;
  headers: IncomingHttpHeaders;
  signedHeaders: string[];
  body: string | Buffer;
  amzDate: string;
  region: string;
  service: string;
  secretAccessKey: string;
}

/**
 * The signature AWS computes for a request, step by step as the IAM user guide describes it. Every service but
 * S3 encodes each path segment once more (the path on the wire is already encoded: `%3A` is signed as `%253A`).
 */
export function sigV4Signature(i: SigV4Input): { signature: string; canonicalRequest: string } {
  const canonicalUri = i.path.split('/').map(uriEncode).join('/') || '/';
  const canonicalQuery = i.query
    .split('&')
    .filter(Boolean)
    .map((kv) => {
      const [k, v = ''] = kv.split('=');
      return [uriEncode(decodeURIComponent(k)), uriEncode(decodeURIComponent(v))] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = i.signedHeaders
    .map((h) => {
      const v = i.headers[h];
      const value = (Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ');
      return `${h}:${value}\n`;
    })
    .join('');
  const canonicalRequest = [i.method, canonicalUri, canonicalQuery, canonicalHeaders, i.signedHeaders.join(';'), sha256Hex(i.body)].join('\n');
  const date = i.amzDate.slice(0, 8);
  const scope = `${date}/${i.region}/${i.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', i.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${i.secretAccessKey}`, date), i.region), i.service), 'aws4_request');
  return { signature: createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex'), canonicalRequest };
}

/** Seconds of clock skew AWS tolerates between x-amz-date and its own clock. */
const MAX_SKEW_MS = 5 * 60_000;

function verifySignature(
  req: RecordedRequest,
  credentials: BedrockMockCredential[],
  region: string,
): { type: string; message: string; why: string } | undefined {
  const auth = req.headers.authorization;
  if (!auth) return { type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token', why: 'no authorization header' };
  const m = AUTH.exec(auth);
  if (!m) return { type: 'IncompleteSignatureException', message: 'Authorization header requires Credential, SignedHeaders and Signature.', why: `bad header: ${auth}` };
  const [, accessKeyId, date, scopeRegion, service, signed, signature] = m;
  const cred = credentials.find((c) => c.accessKeyId === accessKeyId);
  const invalidToken = { type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  if (!cred) return { ...invalidToken, why: `unknown access key ${accessKeyId}` };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) {
    return { type: 'IncompleteSignatureException', message: 'Date must be in ISO-8601 basic format and match the credential scope.', why: `x-amz-date ${amzDate}` };
  }
  const at = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(Date.now() - at) > MAX_SKEW_MS) return { type: 'InvalidSignatureException', message: `Signature expired: ${amzDate} is now earlier or later than the allowed skew.`, why: 'skew' };
  if (scopeRegion !== region) {
    return { type: 'InvalidSignatureException', message: `Credential should be scoped to a valid region. Expected '${region}'.`, why: `region ${scopeRegion}` };
  }
  if (service !== 'bedrock') {
    return { type: 'InvalidSignatureException', message: "Credential should be scoped to correct service: 'bedrock'.", why: `service ${service}` };
  }
  const signedHeaders = signed.split(';');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
    return { type: 'InvalidSignatureException', message: "'Host' and 'X-Amz-Date' must be signed headers.", why: `signed ${signed}` };
  }
  if (cred.sessionToken !== undefined && (req.headers['x-amz-security-token'] !== cred.sessionToken || !signedHeaders.includes('x-amz-security-token'))) {
    return { ...invalidToken, why: 'session token missing or unsigned' };
  }
  const [path, query = ''] = req.path.split('?');
  const expected = sigV4Signature({
    method: req.method,
    path,
    query,
    headers: req.headers,
    signedHeaders,
    body: Buffer.from(req.raw, 'utf8'),
    amzDate,
    region,
    service,
    secretAccessKey: cred.secretAccessKey,
  });
  if (!timingSafeEqual(Buffer.from(expected.signature), Buffer.from(signature))) {
    return { type: 'InvalidSignatureException', message: MISMATCH, why: `canonical request was:\n${expected.canonicalRequest}` };
  }
  return undefined;
}

// ---- Converse --------------------------------------------------------------------------------------------------

function validate(req: RecordedRequest): string | undefined {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return 'Content-Type must be application/json';
  const b = req.body as { messages?: Array<{ role?: string; content?: unknown[] }> } | undefined;
  if (!b || typeof b !== 'object') return 'Malformed input request, please reformat your input and try again.';
  if (!Array.isArray(b.messages) || !b.messages.length) return 'The model returned the following errors: messages: at least one message is required';
  for (const [i, m] of b.messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: must be one of user, assistant`;
    if (!Array.isArray(m.content) || !m.content.length) return `messages.${i}.content: at least one content block is required`;
    if (i > 0 && b.messages[i - 1].role === m.role) return 'A conversation must alternate between user and assistant roles.';
  }
  if (b.messages[0].role !== 'user') return 'A conversation must start with a user message.';
  return undefined;
}

function textOf(reply: BedrockMockReply): string {
  return reply.text ?? (reply.toolCalls?.length ? '' : DEFAULT_TEXT);
}

/** One piece per word, each with its following space. */
function words(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

function toolIds(reply: BedrockMockReply): string[] {
  return (reply.toolCalls ?? []).map(() => `tooluse_${randomBytes(11).toString('base64url')}`);
}

/** Bedrock's inputTokens leaves out cache reads and writes; totalTokens counts everything. */
function usageOf(reply: BedrockMockReply): Record<string, number> {
  const u = reply.usage ?? { input: 10, output: words(textOf(reply)).length + (reply.toolCalls?.length ?? 0) * 10 };
  const out: Record<string, number> = {
    inputTokens: u.input - (u.cachedRead ?? 0) - (u.cacheWrite ?? 0),
    outputTokens: u.output,
    totalTokens: u.input + u.output,
  };
  if (u.cachedRead !== undefined) out.cacheReadInputTokens = u.cachedRead;
  if (u.cacheWrite !== undefined) out.cacheWriteInputTokens = u.cacheWrite;
  return out;
}

function stopReasonOf(reply: BedrockMockReply): string {
  return reply.stopReason ?? (reply.toolCalls?.length ? 'tool_use' : 'end_turn');
}

function reasoningBlock(r: NonNullable<BedrockMockReply['reasoning']>): unknown {
  if ('redacted' in r) return { reasoningContent: { redactedContent: r.redacted } };
  return { reasoningContent: { reasoningText: r.signature !== undefined ? { text: r.text, signature: r.signature } : { text: r.text } } };
}

function converseBody(reply: BedrockMockReply): unknown {
  const content: unknown[] = [];
  if (reply.reasoning) content.push(reasoningBlock(reply.reasoning));
  const text = textOf(reply);
  if (text) content.push({ text });
  const ids = toolIds(reply);
  reply.toolCalls?.forEach((c, i) => content.push({ toolUse: { toolUseId: ids[i], name: c.name, input: c.arguments } }));
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: stopReasonOf(reply),
    usage: usageOf(reply),
    metrics: { latencyMs: 42 },
  };
}

// ---- ConverseStream ------------------------------------------------------------------------------------------

interface StreamEvent {
  type: string;
  body: Record<string, unknown>;
  isText?: boolean;
  exception?: boolean;
}

/** Bedrock pads each event body with a random-length `p` field so sizes reveal nothing. */
function padded(body: Record<string, unknown>): Record<string, unknown> {
  return { ...body, p: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123'.slice(0, 1 + Math.floor(Math.random() * 40)) };
}

/** The events Bedrock sends for this reply, in order (metadata after messageStop). */
function streamEvents(reply: BedrockMockReply): StreamEvent[] {
  const events: StreamEvent[] = [{ type: 'messageStart', body: { role: 'assistant' } }];
  let block = 0;
  const r = reply.reasoning;
  if (r) {
    if ('redacted' in r) {
      events.push({ type: 'contentBlockDelta', body: { contentBlockIndex: block, delta: { reasoningContent: { redactedContent: r.redacted } } } });
    } else {
      for (const w of words(r.text)) events.push({ type: 'contentBlockDelta', body: { contentBlockIndex: block, delta: { reasoningContent: { text: w } } } });
      if (r.signature) events.push({ type: 'contentBlockDelta', body: { contentBlockIndex: block, delta: { reasoningContent: { signature: r.signature } } } });
    }
    events.push({ type: 'contentBlockStop', body: { contentBlockIndex: block++ } });
  }
  const text = textOf(reply);
  if (text) {
    // text blocks open with their first delta (no contentBlockStart)
    for (const w of words(text)) events.push({ type: 'contentBlockDelta', body: { contentBlockIndex: block, delta: { text: w } }, isText: true });
    events.push({ type: 'contentBlockStop', body: { contentBlockIndex: block++ } });
  }
  const ids = toolIds(reply);
  reply.toolCalls?.forEach((c, i) => {
    events.push({ type: 'contentBlockStart', body: { contentBlockIndex: block, start: { toolUse: { toolUseId: ids[i], name: c.name } } } });
    const json = JSON.stringify(c.arguments);
    // an empty object streams no input at all
    if (json !== '{}') {
      const half = Math.ceil(json.length / 2);
      for (const part of [json.slice(0, half), json.slice(half)]) {
        events.push({ type: 'contentBlockDelta', body: { contentBlockIndex: block, delta: { toolUse: { input: part } } } });
      }
    }
    events.push({ type: 'contentBlockStop', body: { contentBlockIndex: block++ } });
  });
  events.push({ type: 'messageStop', body: { stopReason: stopReasonOf(reply) } });
  if (!reply.noMetadata) events.push({ type: 'metadata', body: { usage: usageOf(reply), metrics: { latencyMs: 42 } } });
  if (reply.streamException) {
    const { type, message, afterEvents } = reply.streamException;
    const firstText = events.findIndex((e) => e.isText);
    const at = afterEvents ?? (firstText >= 0 ? firstText + 1 : 1);
    return [...events.slice(0, at), { type, body: { message }, exception: true }];
  }
  return events;
}

/**
 * One binary event-stream message as AWS frames it.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html#API_runtime_ConverseStream_ResponseSyntax
 */
export function encodeEvent(e: { type: string; body: Record<string, unknown>; exception?: boolean }): Uint8Array {
  const headers: MessageHeaders = e.exception
    ? {
        ':exception-type': { type: 'string', value: e.type },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'exception' },
      }
    : {
        ':event-type': { type: 'string', value: e.type },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'event' },
      };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(e.exception ? e.body : padded(e.body))) });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function streamReply(req: RecordedRequest, res: ServerResponse, reply: BedrockMockReply): Promise<void> {
  const events = streamEvents(reply);
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': randomUUID() });
  let texts = 0;
  for (const e of events) {
    if (res.destroyed) return;
    if (e.isText) {
      if (reply.cutAfter !== undefined && texts >= reply.cutAfter) return void res.socket?.destroy();
      if (reply.stallAfter !== undefined && texts >= reply.stallAfter) return void (await req.closedEarly);
      texts++;
    }
    const bytes = encodeEvent(e);
    if (reply.splitEvents) {
      const at = Math.floor(bytes.length / 2);
      res.write(bytes.subarray(0, at));
      await pause(15);
      if (res.destroyed) return;
      res.write(bytes.subarray(at));
    } else {
      res.write(bytes);
    }
    if (reply.gapMs) await pause(reply.gapMs);
  }
  res.end();
}
