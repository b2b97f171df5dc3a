/*
 * Full-text search over the call log, at scale: 10 000 real calls through the gateway at FULL level (GraphQL chat,
 * an OpenAI mock upstream that echoes), a random subset holding a rare word in its message and another subset a word
 * only in its answer. invocations(filter: {search}) paged to the end returns exactly the calls that held the word.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { ok } from './helpers.js';

const CALLS = 10_000;
const CONCURRENCY = 32;
const MODEL = 'search-full';

/** Words no filler text or id holds: letters only, so the 'simple' parser keeps each one whole. */
const rareWord = (prefix: string) => prefix + [...randomBytes(8)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
const IN_MESSAGE = rareWord('msgword');
const IN_ANSWER = rareWord('answord');

/** `size` distinct indexes below CALLS. */
function randomSubset(size: number): Set<number> {
  const s = new Set<number>();
  while (s.size < size) s.add(randomInt(CALLS));
  return s;
}
const withMessageWord = randomSubset(137);
const withAnswerWord = randomSubset(89);

const FILLER = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'weather', 'report', 'please', 'summarise'];
const messageOf = (i: number) =>
  `call n${i} ${FILLER[i % FILLER.length]} ${FILLER[(i * 7) % FILLER.length]}${withMessageWord.has(i) ? ` about ${IN_MESSAGE} today` : ''}`;

let gw: TestGateway;
let mock: OpenAIMock;
let key: { secret: string };

beforeAll(async () => {
  [gw, mock] = await Promise.all([
    // the writer's default interval: a batch holds the records of many calls, as in production
    startGateway({ USAGE_FLUSH_MS: '200' }),
    startOpenAIMock({
      // echoes the message; the calls of the answer subset get a word their message does not have
      reply: (req) => {
        const body = req.body as { messages: Array<{ content: string }> };
        const text = body.messages.at(-1)!.content;
        const i = Number(/\bn(\d+)\b/.exec(text)?.[1]);
        return { text: `you said: ${text}${withAnswerWord.has(i) ? ` and ${IN_ANSWER}` : ''}` };
      },
    }),
  ]);
  ok(await gw.gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', { i: { name: 'search-mock', kind: 'OPENAI', baseUrl: mock.baseUrl, apiKey: 'sk-test' } }));
  ok(await gw.gql(`mutation { createModel(input: { name: "${MODEL}", logBodies: FULL, targets: [{ provider: "search-mock", upstreamModel: "gpt-search" }] }) { id } }`));
  key = await gw.createKey({ name: 'search caller', scopes: ['INVOKE'] });
});

afterAll(async () => {
  await Promise.all([gw?.stop(), mock?.close()]);
});

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id message { content } } }';

/** One chat over HTTP (the GraphQL fast path); its invocation id. */
async function chat(i: number): Promise<string> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}` },
    body: JSON.stringify({ query: CHAT, variables: { input: { model: MODEL, messages: [{ role: 'USER', content: messageOf(i) }] } } }),
  });
  const body = (await res.json()) as { data?: { chat: { id: string } }; errors?: unknown };
  if (!body.data) throw new Error(`call ${i} failed: ${JSON.stringify(body.errors)}`);
  return body.data.chat.id;
}

const PAGE = `query($filter: InvocationFilter, $after: String) {
  invocations(filter: $filter, first: 200, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } }
}`;
type Page = { invocations: { edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };

async function searchAll(search: string): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page: Page = ok(await gw.gql<Page>(PAGE, { filter: { model: MODEL, search }, after }, key.secret));
    ids.push(...page.invocations.edges.map((e) => e.node.id));
    if (!page.invocations.pageInfo.hasNextPage) return ids;
    after = page.invocations.pageInfo.endCursor;
  }
}

const sorted = (ids: Iterable<string>) => [...ids].sort();

describe('call log search over 10 000 logged calls', () => {
  it(
    'a search for a word finds exactly the calls that held it: in their message, or only in their answer',
    async () => {
      const started = Date.now();
      const ids: string[] = new Array(CALLS);
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < CALLS) {
            const i = next++;
            ids[i] = await chat(i);
          }
        }),
      );
      await gw.flushUsage();
      const callsMs = Date.now() - started;

      const inMessage = await searchAll(IN_MESSAGE);
      expect(inMessage.length).toBe(withMessageWord.size);
      expect(sorted(inMessage)).toEqual(sorted([...withMessageWord].map((i) => ids[i])));

      const inAnswer = await searchAll(IN_ANSWER);
      expect(sorted(inAnswer)).toEqual(sorted([...withAnswerWord].map((i) => ids[i])));

      // websearch syntax: both words, either word, one without the other
      const both = [...withMessageWord].filter((i) => withAnswerWord.has(i)).map((i) => ids[i]);
      expect(sorted(await searchAll(`${IN_MESSAGE} ${IN_ANSWER}`))).toEqual(sorted(both));
      const either = new Set([...withMessageWord, ...withAnswerWord].map((i) => ids[i]));
      expect(sorted(await searchAll(`${IN_MESSAGE} or ${IN_ANSWER}`))).toEqual(sorted(either));
      const onlyMessage = [...withMessageWord].filter((i) => !withAnswerWord.has(i)).map((i) => ids[i]);
      expect(sorted(await searchAll(`${IN_MESSAGE} -${IN_ANSWER}`))).toEqual(sorted(onlyMessage));
      // a word no call held: nothing; one call's own marker: that call
      expect(await searchAll(rareWord('absent'))).toEqual([]);
      expect(await searchAll('n4242')).toEqual([ids[4242]]);
      // every call was logged once
      const all = ok(await gw.gql<{ usageSummary: Array<{ requests: number }> }>(`{ usageSummary(filter: { model: "${MODEL}" }) { requests } }`)).usageSummary;
      expect(all[0].requests).toBe(CALLS);

      console.log(`invocations-search: ${CALLS} calls in ${callsMs} ms, searches done at ${Date.now() - started} ms`);
    },
    240_000,
  );
});
