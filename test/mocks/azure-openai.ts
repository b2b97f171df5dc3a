/**
 * A loopback Azure OpenAI resource: `POST /openai/deployments/{deployment-id}/chat/completions?api-version=…` and
 * `…/embeddings?api-version=…`, speaking Azure's wire format (OpenAI's chat completion objects plus Azure's
 * `prompt_filter_results` / `content_filter_results`, Azure's error bodies), scripted with ConformanceReply.
 *
 * ```ts
 * const mock = await startAzureOpenAIMock();           // baseUrl = mock.url (the resource endpoint)
 * mock.reply({ text: 'Hi there', usage: { input: 9, output: 2, cachedRead: 4 } });
 * mock.replyOnce({ fail: { status: 429, retryAfterSeconds: 2 } });     // also sends retry-after-ms
 * mock.replyOnce({ fail: { status: 400, code: 'content_filter' } });   // the prompt was filtered
 * mock.reply({ finishReason: 'content_filter' });                       // the answer was filtered
 * mock.requests[0].path / .headers['api-key']
 * ```
 *
 * Like Azure it answers 401 without a valid `api-key` (or Entra ID `Authorization: Bearer`), 404 "Resource not found"
 * without `api-version`, 404 DeploymentNotFound for unknown deployments.
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#chat-completions
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#embeddings
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/concepts/content-filter
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/quotas-limits
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ConformanceMock, ConformanceReply, ConformanceUsage } from '../providers/conformance/types.js';
import { sendJson, startMockServer, type RecordedRequest } from './mock-server.js';
import { writeScriptedSse, words, type SseEvent } from './scripted-sse.js';

interface AzureMockReply extends ConformanceReply {
  /** @default 'tool_calls' with tool calls, else 'stop' */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /** Azure's error `code` for `fail` (e.g. 'content_filter'). @default the status as a string */
  failCode?: string;
  /** `retry-after-ms` header with `fail` (Azure sends it beside retry-after on 429). @default retryAfterSeconds × 1000 */
  retryAfterMs?: number;
}

export interface AzureOpenAIMockOptions {
  /** The resource key accepted as `api-key`. @default 'azure-test-key-0123456789' */
  apiKey?: string;
  /** The Entra ID token accepted as `Authorization: Bearer`. @default 'entra-test-token-0123456789' */
  bearerToken?: string;
  /** Deployment name → the model it serves; other names are 404 DeploymentNotFound. */
  deployments?: Record<string, string>;
}

export interface AzureOpenAIMock extends ConformanceMock {
  apiKey: string;
  bearerToken: string;
  reply(r: AzureMockReply): void;
  replyOnce(r: AzureMockReply): void;
  last(): RecordedRequest;
}

const DEFAULT_DEPLOYMENTS: Record<string, string> = {
  'gpt-4o-prod': 'gpt-4o-2024-08-06',
  'o3-mini': 'o3-mini-2025-01-31',
  'embed-small': 'text-embedding-3-small',
};

/** Azure's default content filter annotations: every category ran and found nothing. */
const SAFE = {
  hate: { filtered: false, severity: 'safe' },
  self_harm: { filtered: false, severity: 'safe' },
  sexual: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};

const MESSAGES: Record<number, string> = {
  400: 'Invalid request.',
  401: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
  404: 'Resource not found',
  429: 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second.',
  500: 'The server had an error while processing your request. Sorry about that!',
  503: 'The service is temporarily unable to process your request. Please try again later.',
};

/** Azure's error envelope; a filtered prompt also carries `innererror.content_filter_result`. */
function errorBody(status: number, code: string | undefined, message: string | undefined): Record<string, unknown> {
  if (code === 'content_filter') {
    return {
      error: {
        message:
          message ??
          "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: { ...SAFE, violence: { filtered: true, severity: 'high' } } },
      },
    };
  }
  return { error: { code: code ?? String(status), message: message ?? MESSAGES[status] ?? MESSAGES[status >= 500 ? 500 : 400] } };
}

function usageObject(u: ConformanceUsage) {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cachedRead ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

interface Resolved {
  id: string;
  model: string;
  text: string;
  calls: Array<{ id: string; name: string; arguments: string }>;
  finish: string;
  usage: ConformanceUsage;
}

function resolve(reply: AzureMockReply, model: string): Resolved {
  const calls = (reply.toolCalls ?? []).map((c) => ({ id: `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`, name: c.name, arguments: JSON.stringify(c.arguments) }));
  const text = reply.text ?? (calls.length ? '' : 'Hello from the mock.');
  return {
    id: `chatcmpl-${randomUUID().replace(/-/g, '').slice(0, 29)}`,
    model,
    text,
    calls,
    finish: reply.finishReason ?? (calls.length ? 'tool_calls' : 'stop'),
    usage: reply.usage ?? { input: 10, output: words(text).length },
  };
}

function completion(r: Resolved): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: r.finish === 'content_filter' ? null : r.text || null, refusal: null };
  if (r.calls.length) message.tool_calls = r.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return {
    id: r.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: r.model,
    prompt_filter_results: [{ prompt_index: 0, content_filter_results: SAFE }],
    choices: [
      {
        index: 0,
        finish_reason: r.finish,
        logprobs: null,
        message,
        content_filter_results: r.finish === 'content_filter' ? { ...SAFE, violence: { filtered: true, severity: 'medium' } } : SAFE,
      },
    ],
    usage: usageObject(r.usage),
    system_fingerprint: 'fp_azure_mock',
  };
}

/** Azure's stream: a prompt_filter_results chunk with empty choices first, then OpenAI's chunks with filter results. */
function streamEvents(r: Resolved, includeUsage: boolean): SseEvent[] {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finish: string | null, filtered = false) =>
    JSON.stringify({
      id: r.id,
      object: 'chat.completion.chunk',
      created,
      model: r.model,
      system_fingerprint: 'fp_azure_mock',
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null, content_filter_results: filtered ? { ...SAFE, violence: { filtered: true, severity: 'medium' } } : SAFE }],
      ...(includeUsage ? { usage: null } : {}),
    });
  const out: SseEvent[] = [
    { data: JSON.stringify({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: SAFE }] }) },
    { data: chunk({ role: 'assistant', content: '', refusal: null }, null) },
  ];
  for (const w of words(r.text)) out.push({ data: chunk({ content: w }, null), text: true });
  r.calls.forEach((c, index) => {
    out.push({ data: chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }, null) });
    const n = Math.ceil(c.arguments.length / 2);
    out.push({ data: chunk({ tool_calls: [{ index, function: { arguments: c.arguments.slice(0, n) } }] }, null) });
    out.push({ data: chunk({ tool_calls: [{ index, function: { arguments: c.arguments.slice(n) } }] }, null) });
  });
  out.push({ data: chunk({}, r.finish, r.finish === 'content_filter') });
  if (includeUsage) out.push({ data: JSON.stringify({ id: r.id, object: 'chat.completion.chunk', created, model: r.model, choices: [], usage: usageObject(r.usage) }) });
  out.push({ data: '[DONE]' });
  return out;
}

function vector(input: string): number[] {
  let h = 2166136261;
  return Array.from({ length: 8 }, (_, i) => {
    for (const ch of `${input}#${i}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    return ((h >>> 0) % 2000) / 1000 - 1;
  });
}

export async function startAzureOpenAIMock(options: AzureOpenAIMockOptions = {}): Promise<AzureOpenAIMock> {
  const apiKey = options.apiKey ?? 'azure-test-key-0123456789';
  const bearerToken = options.bearerToken ?? 'entra-test-token-0123456789';
  const deployments = options.deployments ?? DEFAULT_DEPLOYMENTS;
  let standing: AzureMockReply = {};
  const queue: AzureMockReply[] = [];

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    sendJson(res, status, body, { 'apim-request-id': randomUUID(), 'x-ms-region': 'East US', ...headers });

  const server = await startMockServer(async (req, res) => {
    const url = new URL(req.path, 'http://mock');
    const route = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(url.pathname);
    if (req.method !== 'POST' || !route) return send(res, 404, errorBody(404, '404', undefined));
    // the key is checked before anything else, as Azure's gateway does
    const keyOk = req.headers['api-key'] === apiKey;
    const tokenOk = req.headers.authorization === `Bearer ${bearerToken}`;
    if (!keyOk && !tokenOk) return send(res, 401, errorBody(401, '401', undefined));
    if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(url.searchParams.get('api-version') ?? '')) return send(res, 404, errorBody(404, '404', undefined));
    const deployment = decodeURIComponent(route[1]);
    const model = deployments[deployment];
    if (!model) {
      return send(res, 404, errorBody(404, 'DeploymentNotFound', 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.'));
    }
    const reply = queue.shift() ?? standing;
    if (reply.hang) return void (await req.closedEarly);
    if (reply.fail) {
      const { status, message, retryAfterSeconds } = reply.fail;
      const headers: Record<string, string> = {};
      if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
      const ms = reply.retryAfterMs ?? (retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : undefined);
      if (ms !== undefined) headers['retry-after-ms'] = String(ms);
      return send(res, status, errorBody(status, reply.failCode, message), headers);
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (route[2] === 'embeddings') {
      const input = Array.isArray(body.input) ? (body.input as string[]) : [String(body.input)];
      const tokens = input.reduce((n, s) => n + Math.max(1, words(s).length), 0);
      return send(res, 200, {
        object: 'list',
        data: input.map((s, index) => ({ object: 'embedding', index, embedding: vector(s) })),
        model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      });
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return send(res, 400, { error: { message: "'messages' is a required property", type: 'invalid_request_error', param: null, code: null } });
    }
    const r = resolve(reply, model);
    if (body.stream === true) {
      const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      return writeScriptedSse(req, res, streamEvents(r, includeUsage), reply, { headers: { 'apim-request-id': randomUUID() } });
    }
    return send(res, 200, completion(r));
  });

  return {
    url: server.url,
    requests: server.requests,
    apiKey,
    bearerToken,
    reply(r) {
      standing = r;
    },
    replyOnce(r) {
      queue.push(r);
    },
    last() {
      const r = server.requests[server.requests.length - 1];
      if (!r) throw new Error('azure mock: no request recorded');
      return r;
    },
    close: () => server.close(),
  };
}
