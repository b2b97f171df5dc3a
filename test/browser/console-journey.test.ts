/*
 * Issue 22's walk through the console, as an operator and an application developer would take it, in one browser:
 * the operator signs in, creates a key (its secret shown once), a provider on an OpenAI-compatible mock and a model
 * on it; the developer signs in with the new key in another tab and streams an answer in the playground; the
 * operator's live tail shows the call as it is recorded and the overview's numbers move, without a reload; the
 * operator revokes the key, and the key stops working. No page meets an error it did not expect.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectNoProblems, hasChromium, launchConsoleBrowser, SKIP_NOTE, type ConsoleBrowser, type ConsolePage } from './console-kit.js';

const ANSWER = 'Gateways route every token through one typed endpoint for you';

describe.runIf(hasChromium)('the console, end to end', () => {
  let gw: TestGateway;
  let mock: OpenAIMock;
  let cb: ConsoleBrowser;

  beforeAll(async () => {
    // slow enough between words that the stream is visibly a stream
    mock = await startOpenAIMock({ reply: { text: ANSWER, gapMs: 60 } });
    gw = await startGateway();
    cb = await launchConsoleBrowser();
  }, 90_000);

  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
    await mock?.close();
  });

  const go = async (p: ConsolePage, link: string, heading: string) => {
    await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: link, exact: true }).click();
    await p.page.getByRole('heading', { name: heading, exact: true }).waitFor();
  };
  const requestsShown = async (page: Page) => Number((await page.getByTestId('stat-requests').locator('.stat-value').innerText()).replace(/,/g, ''));
  const chatWith = (secret: string) =>
    fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query: 'mutation { chat(input: { model: "journey-gpt", messages: [{ role: USER, content: "hi" }] }) { message { content } } }' }),
    });

  it('key, provider and model from the forms; a streamed answer in the playground; the call live in the tail and the overview; the key revoked', async () => {
    const admin = await cb.open();
    await admin.signIn(gw.url, gw.adminKey);

    // a key, its secret shown once
    await go(admin, 'Keys', 'Keys');
    await admin.page.getByRole('button', { name: 'New key' }).click();
    const form = admin.page.getByRole('region', { name: 'New key' });
    await form.getByLabel('Name').fill('journey app');
    await form.getByRole('checkbox', { name: /READ_USAGE/ }).check();
    await form.getByRole('button', { name: 'Create key' }).click();
    const notice = admin.page.getByRole('region', { name: 'New secret' });
    const secret = (await notice.getByTestId('secret').innerText()).trim();
    expect(secret).toMatch(/^gw_/);
    await admin.page.getByRole('button', { name: 'Done, hide it' }).click();
    await notice.waitFor({ state: 'detached' });
    expect(await admin.page.content()).not.toContain(secret);

    // a provider on the OpenAI-compatible mock, and a model on it
    await go(admin, 'Models', 'Providers and models');
    await admin.page.getByRole('button', { name: 'New provider' }).click();
    const pd = admin.page.getByRole('dialog', { name: 'New provider' });
    await pd.getByLabel('Provider name').fill('journey-openai');
    await pd.getByLabel('Kind').selectOption('OPENAI_COMPATIBLE');
    await pd.getByLabel(/Base URL/).fill(mock.baseUrl);
    await pd.getByRole('button', { name: 'Create provider' }).click();
    await admin.page.getByRole('region', { name: 'Providers' }).locator('tr', { hasText: 'journey-openai' }).waitFor();
    await admin.page.getByRole('button', { name: 'New model' }).click();
    const md = admin.page.getByRole('dialog', { name: 'New model' });
    await md.getByLabel('Model name', { exact: true }).fill('journey-gpt');
    const target = md.getByRole('group', { name: 'Target 1' });
    await target.getByLabel('Provider').selectOption('journey-openai');
    await target.getByLabel('Upstream model').fill('gpt-4o-mini');
    await md.getByLabel('Input price (USD / M tokens)').fill('1.5');
    await md.getByLabel('Output price (USD / M tokens)').fill('6');
    await md.getByRole('button', { name: 'Create model' }).click();
    await admin.page.getByRole('region', { name: 'Models' }).locator('tr[data-model="journey-gpt"]').waitFor();

    // the operator watches: one tab on the live tail, one on the overview
    await go(admin, 'Live tail', 'Live tail');
    const tail = admin.page.getByRole('table', { name: 'Live usage records' });
    const overview = await cb.open();
    await overview.signIn(gw.url, gw.adminKey);
    await overview.page.getByRole('heading', { name: 'Overview' }).waitFor();
    await expect.poll(() => requestsShown(overview.page)).toBe(0);

    // the developer streams an answer with the new key
    const dev = await cb.open();
    await dev.signIn(gw.url, secret);
    await go(dev, 'Playground', 'Playground');
    await dev.page.getByLabel('Model', { exact: true }).selectOption('journey-gpt');
    await dev.page.getByLabel('Message 2', { exact: true }).fill('What does a gateway do?');
    const output = dev.page.getByTestId('output');
    const seen: string[] = [];
    await dev.page.getByRole('button', { name: 'Stream', exact: true }).click();
    await expect
      .poll(
        async () => {
          const text = await output.innerText();
          if (seen.at(-1) !== text) seen.push(text);
          return text;
        },
        { timeout: 15_000, interval: 15 },
      )
      .toBe(ANSWER);
    // it grew word by word
    expect(seen.filter((t) => t && t !== ANSWER).length).toBeGreaterThanOrEqual(3);
    expect(mock.chatRequests().at(-1)?.body).toMatchObject({ model: 'gpt-4o-mini', stream: true });

    // the call appears in the tail and moves the overview, neither page reloaded
    await tail.locator('tbody tr', { hasText: 'journey-gpt' }).first().waitFor({ timeout: 15_000 });
    await expect.poll(() => requestsShown(overview.page), { timeout: 15_000 }).toBe(1);
    await overview.page.getByRole('table', { name: 'Groups' }).getByText('journey-gpt').waitFor();

    // revoked: the key stops working
    expect((await chatWith(secret)).status).toBe(200);
    await go(admin, 'Keys', 'Keys');
    const row = admin.page.locator('tr', { has: admin.page.getByText('journey app', { exact: true }) });
    await row.getByRole('button', { name: 'Revoke journey app' }).click();
    const confirm = admin.page.getByRole('dialog', { name: /Revoke/ });
    await confirm.getByRole('button', { name: /^Revoke/ }).click();
    await row.getByText('Revoked').waitFor();
    await expect.poll(async () => (await chatWith(secret)).status, { timeout: 10_000 }).toBe(401);

    for (const p of [admin, overview, dev]) expectNoProblems(p);
    await Promise.all([admin.close(), overview.close(), dev.close()]);
    // a whole operator journey in three browser tabs: some 40 page steps, each waiting on a render
  }, 90_000);
});

if (!hasChromium) {
  describe('the console, end to end', () => {
    it('needs Chromium', (ctx) => ctx.skip(SKIP_NOTE));
  });
}
