/*
 * Input rules at the edge, GraphQL and REST alike: a NUL character in any text argument (PostgreSQL text cannot hold
 * it) and JSON nested past 64 levels (JSON.stringify would overflow the stack) are BAD_USER_INPUT naming the field,
 * never an INTERNAL_SERVER_ERROR, on PGlite and (with TEST_DATABASE_URL) on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLFormattedError } from 'graphql';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { readSse } from '../kit/sse.js';
import { TEST_DATABASE_URL, freshDatabase } from '../limits/kit.js';
import { CHAT, chatInput, expectCode } from './helpers.js';

/** JSON text of `{"a":{"a":…"x"…}}` with `levels` objects: built as text, since JSON.stringify would overflow on it. */
const nested = (levels: number) => '{"a":'.repeat(levels) + '"x"' + '}'.repeat(levels);

function suite(name: string, databaseUrl: () => Promise<{ url?: string; drop?: () => Promise<void> }>, skip: boolean) {
  describe.skipIf(skip)(`input rules (${name})`, () => {
    let gw: TestGateway;
    let invoker: string;
    let drop: (() => Promise<void>) | undefined;

    /** A GraphQL request whose body is given as text. */
    async function gqlText(body: string, key = gw.adminKey) {
      const res = await fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${key}` },
        body,
      });
      return { status: res.status, ...((await res.json()) as { data?: AnyJson; errors?: GraphQLFormattedError[] }) };
    }

    async function rest(method: string, path: string, body?: string) {
      const res = await fetch(`${gw.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${invoker}`, 'content-type': 'application/json' },
        body,
      });
      return { status: res.status, error: ((await res.json()) as { error?: { code: string; param: string | null; message: string } }).error };
    }

    const errorLines = () => gw.logs.filter((l) => JSON.parse(l).level >= 50);

    beforeAll(async () => {
      const db = await databaseUrl();
      drop = db.drop;
      gw = await startGateway(db.url ? { DATABASE_URL: db.url } : {});
      invoker = (await gw.createKey({ name: 'invoker', scopes: ['INVOKE', 'READ_USAGE'] })).secret;
      const p = await gw.gql('mutation { createPrompt(input: { name: "greet", model: "echo", messages: [{ role: USER, content: "Hello {{who}}" }] }) { id } }');
      expect(p.errors).toBeUndefined();
    });
    afterAll(async () => {
      await gw?.stop();
      await drop?.();
    });

    it('a NUL in a GraphQL text argument or input field is BAD_USER_INPUT naming it, never a 500', async () => {
      const nul = 'a\u0000b';
      const cases: Array<[string, string, Record<string, unknown>, string]> = [
        ['model', 'query($n: String!) { model(name: $n) { name } }', { n: nul }, 'name'],
        ['usage filter', 'query($m: String) { usage(filter: { model: $m }) { edges { cursor } } }', { m: nul }, 'filter.model'],
        ['usageSummary filter', 'query($p: String) { usageSummary(groupBy: MODEL, filter: { provider: $p }) { key } }', { p: nul }, 'filter.provider'],
        ['createApiKey', 'mutation($n: String!) { createApiKey(input: { name: $n }) { secret } }', { n: nul }, 'input.name'],
        ['createApiKey allowedModels', 'mutation($m: String!) { createApiKey(input: { name: "k", allowedModels: ["echo", $m] }) { secret } }', { m: nul }, 'input.allowedModels[1]'],
        ['updateApiKey id', 'mutation($id: ID!) { updateApiKey(id: $id, input: { name: "x" }) { id } }', { id: nul }, 'id'],
        ['prompt', 'query($n: String!) { prompt(name: $n) { name } }', { n: nul }, 'name'],
        ['runPrompt', 'mutation($n: String!, $v: JSON) { runPrompt(name: $n, variables: $v) { id } }', { n: nul, v: { who: 'me' } }, 'name'],
        [
          'createPrompt content',
          'mutation($c: String!) { createPrompt(input: { name: "nul", model: "echo", messages: [{ role: USER, content: "ok" }, { role: USER, content: $c }] }) { id } }',
          { c: nul },
          'input.messages[1].content',
        ],
        ['chat model', CHAT, { input: chatInput('hi', { model: nul }) }, 'input.model'],
        ['createProvider', 'mutation($n: String!) { createProvider(input: { name: $n, kind: ECHO }) { id } }', { n: nul }, 'input.name'],
      ];
      for (const [what, query, variables, field] of cases) {
        const res = await gw.gql(query, variables);
        expect(res.status, what).toBeLessThan(500);
        expectCode(res, 'BAD_USER_INPUT', field);
      }
      // a literal in the document is held to the same rule
      expectCode(await gw.gql('mutation { createApiKey(input: { name: "lit\\u0000eral" }) { secret } }'), 'BAD_USER_INPUT', 'input.name');
      expect(errorLines()).toEqual([]);
    });

    it('a NUL in a REST path parameter or body field is a 400 naming it, never a 500', async () => {
      const cases: Array<[string, string, string | undefined, string]> = [
        ['GET', '/v1/models/a%00b', undefined, 'model'],
        ['POST', '/v1/prompts/a%00b/run', '{"variables":{"who":"me"}}', 'name'],
        ['POST', '/v1/chat/completions', JSON.stringify({ model: 'a\u0000b', messages: [{ role: 'user', content: 'hi' }] }), 'model'],
        ['POST', '/v1/chat/completions', JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'a\u0000b' }] }), 'messages[0].content'],
        ['POST', '/v1/embeddings', JSON.stringify({ model: 'echo', input: ['ok', 'a\u0000b'] }), 'input[1]'],
      ];
      for (const [method, path, body, param] of cases) {
        const r = await rest(method, path, body);
        expect(r.status, `${method} ${path} ${body}`).toBe(400);
        expect(r.error, `${method} ${path}`).toMatchObject({ code: 'BAD_USER_INPUT', param });
        expect(r.error?.message).toContain('NUL');
      }
      expect(errorLines()).toEqual([]);
    });

    it('JSON nested deeper than 64 levels is BAD_USER_INPUT naming the field (chat metadata, prompt variables, tool parameters)', async () => {
      const metadata = await gqlText(
        `{"query":"mutation($i: ChatInput!) { chat(input: $i) { id } }","variables":{"i":{"model":"echo","messages":[{"role":"USER","content":"hi"}],"metadata":${nested(6000)}}}}`,
      );
      expectCode(metadata, 'BAD_USER_INPUT', 'input.metadata');
      const variables = await gqlText(
        `{"query":"mutation($v: JSON) { runPrompt(name: \\"greet\\", variables: $v) { id } }","variables":{"v":{"who":${nested(10000)}}}}`,
      );
      expectCode(variables, 'BAD_USER_INPUT', 'variables');
      const tools = await gqlText(
        `{"query":"mutation($i: ChatInput!) { chat(input: $i) { id } }","variables":{"i":{"model":"echo","messages":[{"role":"USER","content":"hi"}],"tools":[{"name":"f","parameters":${nested(3000)}}]}}}`,
      );
      expectCode(tools, 'BAD_USER_INPUT', 'input.tools[0].parameters');

      const restVariables = await rest('POST', '/v1/prompts/greet/run', `{"variables":{"who":${nested(10000)}}}`);
      expect(restVariables.status).toBe(400);
      expect(restVariables.error).toMatchObject({ code: 'BAD_USER_INPUT', param: 'variables' });
      const restTools = await rest(
        'POST',
        '/v1/chat/completions',
        `{"model":"echo","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${nested(3000)}}}]}`,
      );
      expect(restTools.status).toBe(400);
      expect(restTools.error).toMatchObject({ code: 'BAD_USER_INPUT', param: 'tools[0].function.parameters' });
      expect(errorLines()).toEqual([]);
    });

    it('the bound is 64 levels: 64 pass, 65 do not; a subscription is held to it as well', async () => {
      const chat = (levels: number) =>
        gqlText(
          `{"query":"mutation($i: ChatInput!) { chat(input: $i) { id } }","variables":{"i":{"model":"echo","messages":[{"role":"USER","content":"hi"}],"metadata":${nested(levels)}}}}`,
          invoker,
        );
      const at = await chat(64);
      expect(at.errors).toBeUndefined();
      expect(at.data.chat.id).toBeTruthy();
      expectCode(await chat(65), 'BAD_USER_INPUT', 'input.metadata');

      const res = await fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${invoker}` },
        body: `{"query":"subscription($i: ChatInput!) { chatStream(input: $i) { delta } }","variables":{"i":{"model":"echo","messages":[{"role":"USER","content":"hi"}],"metadata":${nested(5000)}}}}`,
      });
      const results = [];
      for await (const e of readSse(res.body!)) if (e.event === 'next') results.push(JSON.parse(e.data));
      expect(results).toHaveLength(1);
      expectCode(results[0], 'BAD_USER_INPUT', 'input.metadata');
      expect(errorLines()).toEqual([]);
    });
  });
}

suite('PGlite', async () => ({}), false);
suite('PostgreSQL', async () => freshDatabase(TEST_DATABASE_URL!), !TEST_DATABASE_URL);
