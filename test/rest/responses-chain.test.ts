/*
 * previous_response_id chains: each stored response keeps only its own turn and the id it continued, and the
 * conversation is rebuilt from the chain (one recursive query, bounded); continuing keeps the ancestors alive.
 * @see https://platform.openai.com/docs/api-reference/responses/create#responses-create-previous_response_id
 */
import OpenAI from 'openai';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { storedResponses } from '../../src/db/schema.js';
import type { Principal } from '../../src/services/keys.js';
import { createStoredResponseService } from '../../src/services/stored-responses.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockProvider } from './kit.js';

let gw: TestGateway;
let openai: OpenAIMock;
let client: OpenAI;

beforeAll(async () => {
  [gw, openai] = await Promise.all([startGateway(), startOpenAIMock()]);
  await addMockProvider(gw, openai, [{ name: 'gpt-chain' }]);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: (await gw.createKey({ scopes: ['INVOKE'] })).secret, maxRetries: 0, timeout: 10_000 });
});
beforeEach(() => openai.reset());
afterAll(async () => {
  await Promise.all([gw?.stop(), openai?.close()]);
});

const db = () => gw.app.services.database.db;
const row = async (id: string) => (await db().select().from(storedResponses).where(eq(storedResponses.id, id)))[0];

/** Three turns, each continuing the one before. */
async function threeTurns(): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, word] of ['one', 'two', 'three'].entries()) {
    openai.reply({ text: `answer ${i + 1}` });
    const r = await client.responses.create({ model: 'gpt-chain', input: word, ...(ids.length ? { previous_response_id: ids.at(-1) } : {}) });
    ids.push(r.id);
  }
  return ids;
}

describe('stored conversation chains', () => {
  it('stores only the turn\'s messages and its link, and sends the whole conversation upstream', async () => {
    const ids = await threeTurns();
    expect((await row(ids[2])).conversation).toEqual({
      previous: ids[1],
      messages: [
        { role: 'USER', content: 'three' },
        { role: 'ASSISTANT', content: 'answer 3' },
      ],
    });
    expect((await row(ids[0])).conversation).toMatchObject({ previous: null });
    const sent = openai.chatRequests().at(-1)!.body as { messages: unknown[] };
    expect(sent.messages).toEqual([
      { role: 'user', content: 'one' },
      { role: 'assistant', content: 'answer 1' },
      { role: 'user', content: 'two' },
      { role: 'assistant', content: 'answer 2' },
      { role: 'user', content: 'three' },
    ]);
  });

  it('continuing moves the ancestors\' expiry up to the new response\'s', async () => {
    const ids = await threeTurns();
    await db().update(storedResponses).set({ expiresAt: new Date(Date.now() + 60_000) }).where(eq(storedResponses.id, ids[0]));
    openai.reply({ text: 'answer 4' });
    const r = await client.responses.create({ model: 'gpt-chain', input: 'four', previous_response_id: ids[2] });
    const newest = (await row(r.id)).expiresAt.getTime();
    expect((await row(ids[0])).expiresAt.getTime()).toBe(newest);
  });

  it('a chain with a deleted response is not found; a chain over the limit is refused naming the field', async () => {
    const ids = await threeTurns();
    const admin = { isAdmin: true, key: { id: 'x' } } as unknown as Principal;
    const short = createStoredResponseService(db(), { ttlSeconds: 60, maxChain: 2 });
    await expect(short.conversation(ids[2], admin, 'previous_response_id')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { field: 'previous_response_id' } });
    expect((await short.conversation(ids[1], admin, 'previous_response_id'))?.conversation).toHaveLength(4);

    await client.responses.delete(ids[1]);
    const err = await client.responses.create({ model: 'gpt-chain', input: 'four', previous_response_id: ids[2] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('previous_response_id');
  });
});
