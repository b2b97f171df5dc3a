/* Helpers for the REST tests: an OpenAI provider backed by the mock, raw SSE reading, and response checks against the OpenAPI document. */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import type { AnyJson } from '../kit/json.js';
import type { TestGateway } from '../kit/start-gateway.js';
import type { OpenAIMock } from '../mocks/openai.js';

/** Registers provider `mock-openai` (kind OPENAI, at the mock) and the given models routed to it. */
export async function addMockProvider(gw: TestGateway, mock: OpenAIMock, models: Array<{ name: string; upstreamModel?: string; status?: string }>): Promise<void> {
  const p = await gw.gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', {
    i: { name: 'mock-openai', kind: 'OPENAI', baseUrl: mock.baseUrl, apiKey: 'sk-mock' },
  });
  expect(p.errors).toBeUndefined();
  for (const m of models) {
    await createModel(gw, { name: m.name, status: m.status, targets: [{ provider: 'mock-openai', upstreamModel: m.upstreamModel ?? 'gpt-4o-mini' }] });
  }
}

export async function createModel(gw: TestGateway, input: Record<string, unknown>): Promise<void> {
  const r = await gw.gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: input });
  expect(r.errors).toBeUndefined();
}

/** The `data:` payloads of a text/event-stream body, in order. */
export async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split(/\n\n/)
    .map((block) => block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n'))
    .filter(Boolean);
}

export function post(gw: TestGateway, path: string, body: unknown, key: string | null, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function get(gw: TestGateway, path: string, key: string | null): Promise<Response> {
  return fetch(`${gw.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Checks bodies against the schemas the OpenAPI document gives for a route, status and media type
 * (JSON Schema 2020-12, the dialect of OpenAPI 3.1), so "answers as documented" is tested against the
 * published document rather than the code that produced it.
 */
export function documentChecker(doc: AnyJson) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ ...doc, $id: 'openapi.json' });
  const cache = new Map<string, ValidateFunction>();
  const byRef = (pointer: string): ValidateFunction => {
    let v = cache.get(pointer);
    if (!v) {
      v = ajv.compile({ $ref: `openapi.json#${pointer}` });
      cache.set(pointer, v);
    }
    return v;
  };
  return {
    /** Asserts that the route documents `status` and that `body` fits its schema. */
    response(path: string, method: string, status: number, body: unknown, mediaType = 'application/json'): void {
      const responses = doc.paths?.[path]?.[method]?.responses;
      expect(responses?.[String(status)], `${method.toUpperCase()} ${path} documents ${status}`).toBeDefined();
      const pointer = `/paths/${escape(path)}/${method}/responses/${status}/content/${escape(mediaType)}/schema`;
      const validate = byRef(pointer);
      expect(validate(body), `${method.toUpperCase()} ${path} ${status}: ${JSON.stringify(validate.errors)}`).toBe(true);
    },
    /** Asserts that `body` fits a named component schema. */
    component(name: string, body: unknown): void {
      expect(doc.components?.schemas?.[name], `component ${name}`).toBeDefined();
      const validate = byRef(`/components/schemas/${name}`);
      expect(validate(body), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    },
  };
}
