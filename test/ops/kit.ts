/* Helpers for the operations tests: Prometheus text parsing, scraping, a provider that always fails. */
import { expect } from 'vitest';
import type { GqlResponse, TestGateway } from '../kit/start-gateway.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition → samples (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function metric(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(gw: TestGateway, token?: string): Promise<Sample[]> {
  const res = await fetch(`${gw.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseMetrics(await res.text());
}

/** Polls until `probe` is truthy. */
export async function waitFor<T>(probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export function ok<T>(res: GqlResponse<T>): T {
  if (res.errors?.length || !res.data) throw new Error(`unexpected GraphQL errors (HTTP ${res.status}): ${JSON.stringify(res.errors)}`);
  return res.data;
}

export const CHAT = `mutation Chat($input: ChatInput!) { chat(input: $input) { provider message { content } usage { promptTokens completionTokens totalTokens } } }`;
export const CHAT_STREAM = `subscription Stream($input: ChatInput!) { chatStream(input: $input) { delta finishReason usage { promptTokens completionTokens } } }`;
export const USAGE_RECORDED = `subscription { usageRecorded { id model status } }`;

export const chatInput = (content: string, model = 'echo') => ({ model, messages: [{ role: 'USER', content }] });

/** A provider whose upstream is a closed port (connection refused), and a model routed to it. */
export async function createDeadModel(gw: TestGateway, name: string, apiKey = 'sk-dead-provider'): Promise<{ provider: string; model: string }> {
  const provider = `${name}-provider`;
  ok(
    await gw.gql('mutation($input: CreateProviderInput!) { createProvider(input: $input) { id } }', {
      input: { name: provider, kind: 'OPENAI_COMPATIBLE', baseUrl: 'http://127.0.0.1:1/v1', apiKey },
    }),
  );
  ok(
    await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', {
      input: { name, targets: [{ provider, upstreamModel: 'gpt-dead' }] },
    }),
  );
  return { provider, model: name };
}
