/**
 * A loopback Vertex AI, with its own OAuth 2.0 token endpoint:
 * - `POST /token`: Google's service-account flow. The form carries `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
 *   and `assertion`, a JWT signed RS256 with the service account's private key; the mock checks the signature with
 *   the matching public key, the claims (iss, scope, aud, iat/exp) and answers `{access_token, expires_in, token_type}`
 *   or Google's `{error: 'invalid_grant', error_description}`.
 * - `POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent` and
 *   `:streamGenerateContent?alt=sse` (Gemini's GenerateContentResponse objects).
 * - `POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:rawPredict` and `:streamRawPredict`
 *   (Anthropic's Messages API with `anthropic_version: "vertex-2023-10-16"` in the body and no `model`).
 * `requests` holds the model API requests only; token requests are in `tokenRequests`.
 * API calls need `Authorization: Bearer <a token this mock issued and that has not expired>` (else 401
 * UNAUTHENTICATED). Replies are scripted with ConformanceReply.
 *
 * ```ts
 * const mock = await startVertexMock();
 * opts = { baseUrl: mock.url, apiKey: mock.credential, settings: { region: 'us-central1' } };
 * mock.reply({ text: 'Hi', usage: { input: 20, output: 5, cachedRead: 8, reasoning: 2 } });
 * mock.tokenRequests.length                              // how many tokens were fetched
 * ```
 * @see https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude
 * @see https://cloud.google.com/vertex-ai/docs/general/troubleshooting (Google's error body)
 * @see https://docs.anthropic.com/en/api/claude-on-vertex-ai
 */
import { createPublicKey, generateKeyPairSync, randomUUID, verify, type KeyObject } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ConformanceMock, ConformanceReply, ConformanceUsage } from '../providers/conformance/types.js';
import { sendJson, startMockServer, type RecordedRequest } from './mock-server.js';
import { writeScriptedSse, words, type SseEvent } from './scripted-sse.js';

export const VERTEX_PROJECT = 'vertex-mock-project';
const CLIENT_EMAIL = `gateway@${VERTEX_PROJECT}.iam.gserviceaccount.com`;
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** Google's token endpoint is the audience of every service-account assertion, whatever URL it is posted to. */
const AUDIENCE = 'https://oauth2.googleapis.com/token';

interface VertexMockReply extends ConformanceReply {
  /** Gemini finishReason. @default 'STOP' */
  finishReason?: string;
  /** Claude stop_reason. @default 'tool_use' with tool calls, else 'end_turn' */
  stopReason?: string;
}

interface VertexTokenRequest {
  claims: Record<string, unknown>;
  at: number;
}

export interface VertexMock extends ConformanceMock {
  /** The service-account key file (JSON) whose token_uri is this mock's /token: the provider credential. */
  credential: string;
  /** The same key file signed by a key the mock does not know (its assertion is refused). */
  foreignCredential: string;
  /** Each accepted or refused token request, oldest first. */
  tokenRequests: VertexTokenRequest[];
  /** expires_in of the next tokens issued (seconds). @default 3600 */
  tokenLifetime(seconds: number): void;
  /** The token endpoint fails the next requests with this status (Google's error body). */
  failTokens(status: number | undefined): void;
  reply(r: VertexMockReply): void;
  replyOnce(r: VertexMockReply): void;
  last(): RecordedRequest;
}

const GRPC_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

function keyFile(privateKeyPem: string, tokenUri: string): string {
  return JSON.stringify({
    type: 'service_account',
    project_id: VERTEX_PROJECT,
    private_key_id: randomUUID().replace(/-/g, ''),
    private_key: privateKeyPem,
    client_email: CLIENT_EMAIL,
    client_id: '109876543210987654321',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(CLIENT_EMAIL)}`,
    universe_domain: 'googleapis.com',
  });
}

function newKeyPair(): { privatePem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })) };
}

const b64json = (part: string): Record<string, unknown> => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/** Checks a service-account assertion the way Google's token endpoint does; returns the refusal, or the claims. */
function checkAssertion(assertion: string, publicKey: KeyObject): { error: string } | { claims: Record<string, unknown> } {
  const parts = assertion.split('.');
  if (parts.length !== 3) return { error: 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe' };
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = b64json(parts[0]);
    claims = b64json(parts[1]);
  } catch {
    return { error: 'Invalid JWT: not base64url JSON' };
  }
  if (header.alg !== 'RS256') return { error: 'Invalid JWT: alg must be RS256' };
  if (!verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, Buffer.from(parts[2], 'base64url'))) return { error: 'Invalid JWT Signature.' };
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== CLIENT_EMAIL) return { error: 'Invalid JWT: iss is not the service account' };
  if (claims.aud !== AUDIENCE) return { error: 'Invalid JWT: aud must be https://oauth2.googleapis.com/token' };
  if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes(SCOPE)) return { error: 'Invalid JWT: scope lacks cloud-platform' };
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp <= now || claims.exp - claims.iat > 3600 || claims.iat > now + 300) {
    return { error: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.' };
  }
  return { claims };
}

function googleError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}, details?: unknown[]): void {
  sendJson(res, status, { error: { code: status, message, status: GRPC_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION'), ...(details ? { details } : {}) } }, headers);
}

/* ---- Gemini (publishers/google) ---- */

function geminiUsage(u: ConformanceUsage): Record<string, number> {
  const thoughts = u.reasoning ?? 0;
  return {
    promptTokenCount: u.input,
    candidatesTokenCount: u.output - thoughts,
    totalTokenCount: u.input + u.output,
    ...(u.cachedRead ? { cachedContentTokenCount: u.cachedRead } : {}),
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
  };
}

function geminiEvents(reply: VertexMockReply, model: string, text: string, usage: ConformanceUsage): Array<Record<string, unknown>> {
  const meta = { modelVersion: model, createTime: new Date().toISOString(), responseId: randomUUID().replace(/-/g, '').slice(0, 22) };
  const out: Array<Record<string, unknown>> = words(text).map((w) => ({ candidates: [{ content: { role: 'model', parts: [{ text: w }] } }], ...meta }));
  const calls = (reply.toolCalls ?? []).map((c) => ({ functionCall: { name: c.name, args: c.arguments } }));
  out.push({
    candidates: [{ content: { role: 'model', parts: calls.length ? calls : [{ text: '' }] }, finishReason: reply.finishReason ?? 'STOP' }],
    usageMetadata: geminiUsage(usage),
    ...meta,
  });
  return out;
}

/** The unary answer: the streamed events merged, as Vertex returns it. */
function geminiResponse(reply: VertexMockReply, model: string, text: string, usage: ConformanceUsage): Record<string, unknown> {
  const events = geminiEvents(reply, model, text, usage);
  const last = events[events.length - 1] as { candidates: Array<{ content: { parts: unknown[] }; finishReason: string }> };
  const parts = [...(text ? [{ text }] : []), ...(reply.toolCalls ?? []).map((c) => ({ functionCall: { name: c.name, args: c.arguments } }))];
  return { ...last, candidates: [{ content: { role: 'model', parts }, finishReason: last.candidates[0].finishReason, avgLogprobs: -0.1 }] };
}

/* ---- Claude (publishers/anthropic) ---- */

function claudeUsage(u: ConformanceUsage): Record<string, number> {
  const read = u.cachedRead ?? 0;
  const write = u.cacheWrite ?? 0;
  return { input_tokens: u.input - read - write, cache_creation_input_tokens: write, cache_read_input_tokens: read, output_tokens: u.output };
}

function claudeMessage(reply: VertexMockReply, model: string, text: string, usage: ConformanceUsage): Record<string, unknown> {
  const content: unknown[] = text ? [{ type: 'text', text }] : [];
  for (const c of reply.toolCalls ?? []) content.push({ type: 'tool_use', id: `toolu_vrtx_${randomUUID().replace(/-/g, '').slice(0, 22)}`, name: c.name, input: c.arguments });
  return {
    id: `msg_vrtx_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: reply.stopReason ?? (reply.toolCalls?.length ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: claudeUsage(usage),
  };
}

/** @see https://docs.anthropic.com/en/docs/build-with-claude/streaming#event-types */
function claudeEvents(reply: VertexMockReply, model: string, text: string, usage: ConformanceUsage): SseEvent[] {
  const msg = claudeMessage(reply, model, text, usage) as { id: string; stop_reason: string; content: Array<Record<string, unknown>> };
  const u = claudeUsage(usage);
  const ev = (event: string, data: Record<string, unknown>, isText = false): SseEvent => ({ event, data: JSON.stringify({ type: event, ...data }), text: isText });
  const out: SseEvent[] = [
    ev('message_start', { message: { ...msg, content: [], stop_reason: null, usage: { ...u, output_tokens: 1 } } }),
    ev('ping', {}),
  ];
  let index = 0;
  if (text) {
    out.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
    for (const w of words(text)) out.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: w } }, true));
    out.push(ev('content_block_stop', { index }));
    index++;
  }
  for (const block of msg.content.filter((b) => b.type === 'tool_use')) {
    out.push(ev('content_block_start', { index, content_block: { ...block, input: {} } }));
    const json = JSON.stringify(block.input);
    const n = Math.ceil(json.length / 2);
    out.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } }));
    out.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, n) } }));
    out.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(n) } }));
    out.push(ev('content_block_stop', { index }));
    index++;
  }
  out.push(ev('message_delta', { delta: { stop_reason: msg.stop_reason, stop_sequence: null }, usage: { output_tokens: u.output_tokens } }));
  out.push(ev('message_stop', {}));
  return out;
}

/* ---- text embeddings (publishers/google …:predict) ---- */

/**
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/embeddings/get-text-embeddings#api_limits
 */
function predict(req: RecordedRequest, res: ServerResponse, model: string): void {
  const instances = (req.body as { instances?: Array<{ content?: unknown }> } | undefined)?.instances;
  if (!Array.isArray(instances) || instances.some((i) => typeof i?.content !== 'string')) return googleError(res, 400, 'instances[].content is required.');
  const max = model.startsWith('gemini-embedding') ? 1 : 250;
  if (instances.length > max) return googleError(res, 400, `Unable to submit request because the model supports at most ${max} instance(s) per request.`);
  const predictions = instances.map((i) => {
    const text = i.content as string;
    let h = 2166136261;
    const values = Array.from({ length: 8 }, (_, d) => {
      for (const ch of `${text}#${d}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
      return ((h >>> 0) % 2000) / 1000 - 1;
    });
    return { embeddings: { statistics: { truncated: false, token_count: Math.max(1, words(text).length) }, values } };
  });
  sendJson(res, 200, { predictions, metadata: { billableCharacterCount: instances.reduce((n, i) => n + (i.content as string).length, 0) } });
}

/* ---- the server ---- */

export async function startVertexMock(): Promise<VertexMock> {
  const own = newKeyPair();
  const foreign = newKeyPair();
  const tokens = new Map<string, number>(); // access token → expiry (ms)
  const tokenRequests: VertexTokenRequest[] = [];
  let lifetime = 3600;
  let tokenFailure: number | undefined;
  let standing: VertexMockReply = {};
  const queue: VertexMockReply[] = [];

  const server = await startMockServer(async (req, res) => {
    const url = new URL(req.path, 'http://mock');
    if (url.pathname === '/token') {
      // token exchanges are not model calls: kept apart so `requests` reads like every other provider mock's
      server.requests.splice(server.requests.indexOf(req), 1);
      return tokenEndpoint(req, res);
    }

    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const expiry = auth ? tokens.get(auth) : undefined;
    if (!expiry || expiry <= Date.now()) {
      return googleError(res, 401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.');
    }
    const route = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/(google|anthropic)\/models\/([^/:]+):(generateContent|streamGenerateContent|rawPredict|streamRawPredict|predict)$/.exec(
      url.pathname,
    );
    if (req.method !== 'POST' || !route) return googleError(res, 404, `The requested URL ${url.pathname} was not found on this server.`);
    const [, project, , publisher, model, method] = route;
    if (project !== VERTEX_PROJECT) return googleError(res, 403, `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${project}' (or it may not exist).`);
    const claude = publisher === 'anthropic';
    if (method === 'predict') return predict(req, res, model);
    if (claude !== (method === 'rawPredict' || method === 'streamRawPredict')) return googleError(res, 400, `${method} is not supported for publisher ${publisher}.`);

    const reply = queue.shift() ?? standing;
    if (reply.hang) return void (await req.closedEarly);
    if (reply.fail) {
      const { status, message, retryAfterSeconds } = reply.fail;
      const headers: Record<string, string> = retryAfterSeconds !== undefined ? { 'retry-after': String(retryAfterSeconds) } : {};
      // quota errors come from Vertex itself (Google's body); Claude's own errors keep Anthropic's body
      if (!claude || status === 429) {
        const details = retryAfterSeconds !== undefined ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` }] : undefined;
        return googleError(res, status, message ?? (status === 429 ? `Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model with base model: ${model}.` : `Mock error ${status}`), headers, details);
      }
      return sendJson(res, status, { type: 'error', error: { type: ANTHROPIC_TYPES[status] ?? 'api_error', message: message ?? `Mock error ${status}` } }, headers);
    }

    const body = (req.body ?? {}) as Record<string, unknown>;
    const text = reply.text ?? (reply.toolCalls?.length ? '' : 'Hello from the mock.');
    const usage = reply.usage ?? { input: 10, output: words(text).length };
    if (claude) {
      if (body.anthropic_version !== 'vertex-2023-10-16') {
        return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic_version: vertex-2023-10-16 is required' } });
      }
      if ('model' in body) return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'model: Extra inputs are not permitted' } });
      if (!Array.isArray(body.messages) || typeof body.max_tokens !== 'number') {
        return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'messages and max_tokens are required' } });
      }
      if (method === 'streamRawPredict') {
        if (body.stream !== true) return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'streamRawPredict needs stream: true' } });
        return writeScriptedSse(req, res, claudeEvents(reply, model, text, usage), reply);
      }
      return sendJson(res, 200, claudeMessage(reply, model, text, usage));
    }
    if (!Array.isArray(body.contents)) return googleError(res, 400, 'Invalid JSON payload received. Unknown name "messages": Cannot find field. contents is required.');
    if (body.contents.some((c: { role?: unknown }) => c.role !== 'user' && c.role !== 'model')) {
      return googleError(res, 400, 'Please use a valid role: user, model.');
    }
    if (method === 'streamGenerateContent') {
      if (url.searchParams.get('alt') !== 'sse') return googleError(res, 400, 'this mock streams with alt=sse only');
      const events = geminiEvents(reply, model, text, usage).map((e, i, all): SseEvent => ({ data: JSON.stringify(e), text: i < all.length - 1 }));
      return writeScriptedSse(req, res, events, reply, { eol: '\r\n' });
    }
    return sendJson(res, 200, geminiResponse(reply, model, text, usage));
  });

  function tokenEndpoint(req: RecordedRequest, res: ServerResponse): void {
    const form = new URLSearchParams(req.raw);
    const refuse = (description: string) => {
      tokenRequests.push({ claims: {}, at: Date.now() });
      sendJson(res, 400, { error: 'invalid_grant', error_description: description });
    };
    if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return refuse('Bad Request');
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return refuse('Invalid grant_type: ' + (form.get('grant_type') ?? ''));
    const checked = checkAssertion(form.get('assertion') ?? '', own.publicKey);
    if ('error' in checked) return refuse(checked.error);
    tokenRequests.push({ claims: checked.claims, at: Date.now() });
    if (tokenFailure !== undefined) {
      return sendJson(res, tokenFailure, { error: tokenFailure >= 500 ? 'internal_failure' : 'invalid_grant', error_description: 'Mock token failure' });
    }
    const token = `ya29.mock-${randomUUID().replace(/-/g, '')}`;
    tokens.set(token, Date.now() + lifetime * 1000);
    sendJson(res, 200, { access_token: token, expires_in: lifetime, token_type: 'Bearer' });
  }

  const tokenUri = `${server.url}/token`;
  return {
    url: server.url,
    requests: server.requests,
    credential: keyFile(own.privatePem, tokenUri),
    foreignCredential: keyFile(foreign.privatePem, tokenUri),
    tokenRequests,
    tokenLifetime(seconds) {
      lifetime = seconds;
    },
    failTokens(status) {
      tokenFailure = status;
    },
    reply(r) {
      standing = r;
    },
    replyOnce(r) {
      queue.push(r);
    },
    last() {
      const r = server.requests[server.requests.length - 1];
      if (!r) throw new Error('vertex mock: no request recorded');
      return r;
    },
    close: () => server.close(),
  };
}
