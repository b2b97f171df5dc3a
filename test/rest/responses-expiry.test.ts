/* Stored responses expire after RESPONSES_TTL_SECONDS: GET and previous_response_id answer 404, and the sweep deletes the rows. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count } from 'drizzle-orm';
import { storedResponses } from '../../src/db/schema.js';
import { loadConfig } from '../../src/config.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  gw = await startGateway({ RESPONSES_TTL_SECONDS: '1' });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: (await gw.createKey({ scopes: ['INVOKE'] })).secret, maxRetries: 0, timeout: 10_000 });
});
afterAll(async () => {
  await gw?.stop();
});

const rows = async () => (await gw.app.services.database.db.select({ n: count() }).from(storedResponses))[0].n;

describe('RESPONSES_TTL_SECONDS', () => {
  it('defaults to 30 days; an empty value is unset', () => {
    expect(loadConfig({ DATABASE_URL: 'memory://' }).responses.ttlSeconds).toBe(30 * 86_400);
    expect(loadConfig({ DATABASE_URL: 'memory://', RESPONSES_TTL_SECONDS: ' ' }).responses.ttlSeconds).toBe(30 * 86_400);
    expect(() => loadConfig({ DATABASE_URL: 'memory://', RESPONSES_TTL_SECONDS: '0' })).toThrow(/RESPONSES_TTL_SECONDS/);
  });

  it('an expired response is gone for GET and previous_response_id, and the sweep deletes it', async () => {
    const r = await client.responses.create({ model: 'echo', input: 'short lived' });
    expect((await client.responses.retrieve(r.id)).id).toBe(r.id);
    expect(await gw.app.services.storedResponses.sweep()).toBe(0);
    expect(await rows()).toBe(1);

    await new Promise((res) => setTimeout(res, 1100));
    await expect(client.responses.retrieve(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const err = await client.responses.create({ model: 'echo', previous_response_id: r.id, input: 'more' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('previous_response_id');

    expect(await gw.app.services.storedResponses.sweep()).toBe(1);
    expect(await rows()).toBe(0);
  });
});
