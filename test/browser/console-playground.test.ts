/* The console's playground in headless Chromium: a model from the key's own list, a conversation streamed token by
 * token from an OpenAI-compatible mock with its tokens, cost and latency, Stop cancelling the upstream request, the
 * chat mutation, the gateway's errors, and a model's HTML answer shown as text. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { ok, usageOf, waitFor } from '../graphql/helpers.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import type { RecordedRequest } from '../mocks/mock-server.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { DESKTOP, expectNoProblems, hasChromium, launchConsoleBrowser, PHONE, type ConsoleBrowser, type ConsolePage } from './console-kit.js';

const GAP_MS = 90;
const XSS = '<img src=x onerror=alert(1)> <script>alert(2)</script>';

/** The text of the last USER message: the mock answers with it, word by word. */
function lastUserText(req: RecordedRequest): string {
  const messages = (req.body as { messages: Array<{ role: string; content: string }> }).messages;
  return messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
}

describe.runIf(hasChromium)('the console playground', () => {
  let gw: TestGateway;
  let mock: OpenAIMock;
  let cb: ConsoleBrowser;

  beforeAll(async () => {
    mock = await startOpenAIMock({ reply: (req) => ({ text: lastUserText(req), gapMs: GAP_MS }) });
    gw = await startGateway({}, { adapters: { ECHO: createEchoAdapter({ wordDelayMs: 60 }) } });
    ok(await gw.gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', { i: { name: 'mockai', kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl, apiKey: 'sk-mock' } }));
    ok(
      await gw.gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', {
        i: { name: 'mock-gpt', targets: [{ provider: 'mockai', upstreamModel: 'gpt-mock' }], inputPricePerMTok: 2000, outputPricePerMTok: 8000 },
      }),
    );
    ok(await gw.gql('mutation { createModel(input: { name: "hidden-model", targets: [{ provider: "echo", upstreamModel: "echo" }] }) { id } }'));
    cb = await launchConsoleBrowser();
  }, 90_000);

  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
    await mock?.close();
  });

  async function openPlayground(key: string, viewport = DESKTOP): Promise<ConsolePage> {
    const p = await cb.open(viewport);
    await p.signIn(gw.url, key);
    await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Playground' }).click();
    await p.page.getByRole('heading', { name: 'Playground' }).waitFor();
    await p.page.getByLabel('Model', { exact: true }).locator('option').first().waitFor({ state: 'attached' });
    // every text the output showed, in order: proves the answer grew chunk by chunk
    await p.page.evaluate(() => {
      const w = window as unknown as { __seen: string[] };
      w.__seen = [];
      const out = document.querySelector('[data-testid="output"]')!;
      new MutationObserver(() => {
        const text = (out as HTMLElement).innerText;
        if (w.__seen.at(-1) !== text) w.__seen.push(text);
      }).observe(out, { subtree: true, childList: true, characterData: true });
    });
    return p;
  }

  const status = (p: ConsolePage) => p.page.getByTestId('run-status').innerText();
  const output = (p: ConsolePage) => p.page.getByTestId('output').innerText();
  const figure = (p: ConsolePage, label: string) => p.page.locator('.run-figure', { hasText: label }).locator('dd').innerText();
  const seen = (p: ConsolePage) => p.page.evaluate(() => (window as unknown as { __seen: string[] }).__seen);

  it('an INVOKE key picks from its own models, streams an answer token by token and sees its tokens, cost and latency; HTML in the answer stays text', async () => {
    const key = await gw.createKey({ name: 'playground user', scopes: ['INVOKE'], allowedModels: ['echo', 'mock-gpt'] });
    const p = await openPlayground(key.secret);
    const dialogs: string[] = [];
    p.page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const model = p.page.getByLabel('Model', { exact: true });
    // ADMIN sees hidden-model too; this key only what it may invoke
    const admin = ok(await gw.gql<{ models: Array<{ name: string }> }>('{ models { name } }')).models.map((m) => m.name);
    expect(admin).toContain('hidden-model');
    expect((await model.locator('option').allInnerTexts()).sort()).toEqual(['echo', 'mock-gpt']);

    await model.selectOption('mock-gpt');
    await p.page.getByLabel('Message 1', { exact: true }).fill('You are terse.');
    const question = `Say these words back to me one at a time please ${XSS} thanks`;
    await p.page.getByLabel('Message 2', { exact: true }).fill(question);
    await p.page.getByLabel('Temperature').fill('0.3');
    await p.page.getByLabel('Max tokens').fill('200');
    await p.page.getByRole('button', { name: 'Stream', exact: true }).click();

    await expect.poll(() => output(p), { timeout: 10_000, interval: 20 }).toMatch(/one at/);
    expect(await status(p)).toBe('Streaming…');
    expect(await p.page.getByRole('button', { name: 'Stop' }).isEnabled()).toBe(true);
    await p.screenshot('playground-streaming');

    await expect.poll(() => status(p), { timeout: 10_000 }).toBe('Finished');
    expect(await output(p)).toBe(question);
    const growth = await seen(p);
    // one word per event: the output showed many growing prefixes of the answer, never the whole of it at once
    expect(growth.length).toBeGreaterThan(8);
    for (const text of growth.slice(1)) expect(question.startsWith(text)).toBe(true);
    expect(await p.page.locator('[data-testid="output"] img, [data-testid="output"] script').count()).toBe(0);
    await p.screenshot('playground-finished');

    // the figures are the call's usage record
    const [record] = await waitFor(async () => {
      const r = await usageOf(gw, key.id);
      return r.length ? r : null;
    }, 'the usage record');
    expect(record).toMatchObject({ status: 'OK', streamed: true, model: 'mock-gpt' });
    expect(await figure(p, 'Prompt tokens')).toBe(String(record.promptTokens));
    expect(await figure(p, 'Completion tokens')).toBe(String(record.completionTokens));
    expect(record.costUsd).toBeGreaterThan(0);
    expect(await figure(p, 'Cost')).toMatch(/^\$0\.\d+|^\$\d/);
    // time to first token and total, measured in the browser: the mock waits GAP_MS between words
    const ttft = Number((await figure(p, 'First token')).replace(/ ms$/, ''));
    const total = await figure(p, 'Total time');
    expect(ttft).toBeGreaterThan(0);
    expect(total).toMatch(/^\d+(\.\d+)? s$|^\d+ ms$/);
    expect(Number(total.replace(/ s$/, '')) * (total.endsWith(' s') ? 1000 : 1)).toBeGreaterThan(GAP_MS * 8);
    // what went upstream: the conversation and the parameters as typed
    const sent = mock.chatRequests().at(-1)!.body as { messages: Array<{ role: string; content: string }>; temperature: number; stream: boolean };
    expect(sent.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: question },
    ]);
    expect(sent).toMatchObject({ temperature: 0.3, stream: true });
    expect(dialogs).toEqual([]);
    expectNoProblems(p);
    await p.close();
  });

  it('Stop ends the stream mid-answer: the output stops growing, the upstream request is aborted and the call is recorded CANCELLED', async () => {
    const key = await gw.createKey({ name: 'stopper', scopes: ['INVOKE'] });
    const p = await openPlayground(key.secret);
    await p.page.getByLabel('Model', { exact: true }).selectOption('mock-gpt');
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    await p.page.getByLabel('Message 2', { exact: true }).fill(long);
    const before = mock.chatRequests().length;
    await p.page.getByRole('button', { name: 'Stream', exact: true }).click();
    await expect.poll(() => output(p), { timeout: 10_000, interval: 20 }).toContain('word3');
    await p.page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => status(p)).toBe('Stopped');
    const shown = await output(p);
    expect(shown.length).toBeLessThan(long.length);

    const upstream = mock.chatRequests()[before];
    await Promise.race([upstream.closedEarly, new Promise((_, reject) => setTimeout(() => reject(new Error('the upstream request was not aborted')), 3000))]);
    await new Promise((r) => setTimeout(r, GAP_MS * 4));
    expect(await output(p)).toBe(shown);
    const records = await waitFor(async () => {
      const r = await usageOf(gw, key.id);
      return r.length ? r : null;
    }, 'the usage record of the stopped call');
    expect(records.map((r) => r.status)).toEqual(['CANCELLED']);
    expect(await p.page.getByRole('button', { name: 'Stream', exact: true }).isEnabled()).toBe(true);
    expectNoProblems(p);
    await p.close();
  });

  it('Send (no stream) answers with the chat mutation; a rate limit is shown with its message and code', async () => {
    const key = await gw.createKey({ name: 'one per minute', scopes: ['INVOKE'], limits: { requestsPerMinute: 1 } });
    const p = await openPlayground(key.secret);
    await p.page.getByLabel('Model', { exact: true }).selectOption('echo');
    await p.page.getByRole('button', { name: 'Add message' }).click();
    await p.page.getByLabel('Message 2', { exact: true }).fill('first turn');
    await p.page.getByLabel('Role of message 3').selectOption('ASSISTANT');
    await p.page.getByLabel('Message 3', { exact: true }).fill('an answer');
    await p.page.getByRole('button', { name: 'Add message' }).click();
    await p.page.getByLabel('Message 4', { exact: true }).fill('hello <b>there</b>');
    await p.page.getByRole('button', { name: 'Remove message 1' }).click();
    expect(await p.page.getByLabel(/^Message \d$/).count()).toBe(3);

    await p.page.getByRole('button', { name: 'Send (no stream)' }).click();
    await expect.poll(() => status(p), { timeout: 10_000 }).toBe('Finished');
    expect(await output(p)).toBe('echo: hello <b>there</b>');
    expect(await p.page.locator('[data-testid="output"] b').count()).toBe(0);
    expect(Number(await figure(p, 'Completion tokens'))).toBeGreaterThan(0);

    await p.page.getByRole('button', { name: 'Send (no stream)' }).click();
    await expect.poll(() => status(p), { timeout: 10_000 }).toBe('Failed');
    expect(await p.page.getByRole('alert').innerText()).toContain('(RATE_LIMITED)');
    // the stream is refused the same way, over graphql-ws
    await p.page.getByRole('button', { name: 'Stream', exact: true }).click();
    await expect.poll(() => p.page.getByRole('alert').innerText(), { timeout: 10_000 }).toMatch(/\(RATE_LIMITED\)/);
    expect(await status(p)).toBe('Failed');
    // the mutation's 200 with errors is no failed request; nothing else went wrong
    expectNoProblems(p);
    await p.close();
  });

  it('a model taken off the key\'s list after the page loaded is refused: FORBIDDEN with the gateway\'s message', async () => {
    const key = await gw.createKey({ name: 'narrowed', scopes: ['INVOKE'], allowedModels: ['echo', 'mock-gpt'] });
    const p = await openPlayground(key.secret);
    await p.page.getByLabel('Model', { exact: true }).selectOption('mock-gpt');
    await p.page.getByLabel('Message 2', { exact: true }).fill('still allowed?');
    ok(await gw.gql('mutation($id: ID!) { updateApiKey(id: $id, input: { allowedModels: ["echo"] }) { id } }', { id: key.id }));
    await p.page.getByRole('button', { name: 'Stream', exact: true }).click();
    await expect.poll(() => status(p), { timeout: 10_000 }).toBe('Failed');
    expect(await p.page.getByRole('alert').innerText()).toBe('This key may not invoke model "mock-gpt" (FORBIDDEN)');
    expect(await output(p)).toBe('');
    expectNoProblems(p);
    await p.close();
  });

  it('fits a phone: streaming and finished', async () => {
    const p = await openPlayground(gw.adminKey, PHONE);
    await p.page.getByLabel('Model', { exact: true }).selectOption('echo');
    await p.page.getByLabel('Message 2', { exact: true }).fill('a phone sized answer that streams in word by word for a while');
    await p.page.getByRole('button', { name: 'Stream', exact: true }).click();
    await expect.poll(() => output(p), { timeout: 10_000, interval: 20 }).toContain('sized');
    await p.page.getByRole('region', { name: 'Answer' }).scrollIntoViewIfNeeded();
    await p.screenshot('playground-phone-streaming');
    await expect.poll(() => status(p), { timeout: 10_000 }).toBe('Finished');
    await p.screenshot('playground-phone-finished');
    // nothing wider than the screen
    expect(await p.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    expectNoProblems(p);
    await p.close();
  });
});
