/*
 * The console's Providers and models page in headless Chromium, driven as an operator would: an OpenAI-compatible
 * provider pointing at a loopback mock, a model on it made with the form and answering through GraphQL, its
 * target's health badge following the upstream, deprecation behind a confirmation (calls then carry the warning),
 * and deletes (a provider still in use is refused with the gateway's message). A description holding HTML is text.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { DESKTOP, expectNoProblems, hasChromium, launchConsoleBrowser, PHONE, SKIP_NOTE, type ConsoleBrowser, type ConsolePage } from './console-kit.js';

const XSS_DESCRIPTION = 'Fast <img src=x onerror=alert(1)> model <script>window.__xss=1</script>';
const UPSTREAM_KEY = 'sk-test-upstream-0123456789';
const CHAT = 'mutation($m: String!) { chat(input: { model: $m, messages: [{ role: USER, content: "hello" }] }) { message { content } upstreamModel provider } }';

async function openModels(cb: ConsoleBrowser, gw: TestGateway, viewport?: { width: number; height: number }): Promise<ConsolePage> {
  const p = await cb.open(viewport);
  p.page.on('dialog', (d) => {
    p.problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await p.signIn(gw.url, gw.adminKey);
  await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Models', exact: true }).click();
  await p.page.getByRole('heading', { name: 'Providers and models' }).waitFor();
  return p;
}

const modelRow = (page: Page, name: string) => page.getByRole('region', { name: 'Models' }).locator(`tr[data-model="${name}"]`);

describe.runIf(hasChromium)('the Providers and models page', () => {
  let gw: TestGateway;
  let cb: ConsoleBrowser;
  let mock: OpenAIMock;
  beforeAll(async () => {
    mock = await startOpenAIMock({ apiKey: UPSTREAM_KEY });
    // one failure puts a target into cooldown, so a health badge can be seen to change within a test
    gw = await startGateway({}, { router: { failureThreshold: 1, cooldownMs: 60_000 } });
    cb = await launchConsoleBrowser();
  }, 90_000);
  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
    await mock?.close();
  });

  it('creates an OpenAI-compatible provider and a model on it with the forms; the model answers through GraphQL', async () => {
    const p = await openModels(cb, gw);
    await p.page.getByRole('button', { name: 'New provider' }).click();
    const pd = p.page.getByRole('dialog', { name: 'New provider' });
    await pd.getByLabel('Provider name').fill('mock-openai');
    await pd.getByLabel('Kind').selectOption('OPENAI_COMPATIBLE');
    await pd.getByLabel(/Base URL/).fill(mock.baseUrl);
    await pd.getByLabel(/API key/).fill(UPSTREAM_KEY);
    await pd.getByRole('button', { name: 'Create provider' }).click();
    await pd.waitFor({ state: 'hidden' });
    const providers = p.page.getByRole('region', { name: 'Providers' });
    const providerRow = providers.locator('tr', { hasText: 'mock-openai' });
    await providerRow.getByText('stored').waitFor();
    // the credential is write-only: never in the page
    expect(await p.page.content()).not.toContain(UPSTREAM_KEY);

    await p.page.getByRole('button', { name: 'New model' }).click();
    const md = p.page.getByRole('dialog', { name: 'New model' });
    await md.getByLabel('Model name', { exact: true }).fill('mock-chat');
    await md.getByLabel('Description').fill(XSS_DESCRIPTION);
    const target = md.getByRole('group', { name: 'Target 1' });
    await target.getByLabel('Provider').selectOption('mock-openai');
    await target.getByLabel('Upstream model').fill('gpt-4o-mini');
    await md.getByLabel('Input price (USD / M tokens)').fill('1.5');
    await md.getByLabel('Output price (USD / M tokens)').fill('6');
    await md.getByLabel('Context window (tokens)').fill('128000');
    await md.getByLabel('Timeout per attempt (ms)').fill('20000');
    await md.getByLabel('Fallbacks (other models, comma-separated, in order)').fill('echo');
    await p.page.setViewportSize(PHONE);
    await p.screenshot('models-new-phone');
    await p.page.setViewportSize(DESKTOP);
    await md.getByRole('button', { name: 'Create model' }).click();
    await md.waitFor({ state: 'hidden' });

    const row = modelRow(p.page, 'mock-chat');
    await row.getByText('mock-openai / gpt-4o-mini').waitFor();
    await row.getByText('healthy', { exact: true }).waitFor();
    expect(await row.getByText(XSS_DESCRIPTION, { exact: true }).count()).toBe(1);
    expect(await row.locator('img').count()).toBe(0);
    expect(await p.page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await row.innerText()).toContain('$1.50 / $6.00');

    const answer = await gw.gql(CHAT, { m: 'mock-chat' });
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ chat: { message: { content: 'Hello from the mock!' }, upstreamModel: 'gpt-4o-mini', provider: 'mock-openai' } });
    expect(mock.chatRequests().at(-1)?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expectNoProblems(p);
    await p.close();
  });

  it('shows a target cooling down after its upstream failed, without a reload, and healthy again after a success', async () => {
    const p = await openModels(cb, gw);
    const row = modelRow(p.page, 'mock-chat');
    await row.getByText('healthy', { exact: true }).waitFor();
    mock.reply(mockError(503));
    const failed = await gw.gql(CHAT, { m: 'mock-chat' });
    mock.reply({});
    expect(failed.data?.chat).toMatchObject({ provider: 'echo' });
    await row.getByText('cooling down').waitFor({ timeout: 10_000 });
    await p.screenshot('models');
    await p.page.setViewportSize(PHONE);
    await row.scrollIntoViewIfNeeded();
    await p.screenshot('models-phone');
    await p.page.setViewportSize(DESKTOP);
    const healed = await gw.gql(CHAT, { m: 'mock-chat' });
    expect(healed.data?.chat).toMatchObject({ provider: 'mock-openai' });
    await row.getByText('healthy', { exact: true }).waitFor({ timeout: 10_000 });
    expectNoProblems(p);
    await p.close();
  });

  it('deprecates, then retires, a model after confirmations that say what callers will see; calls carry the warning, then fail', async () => {
    const p = await openModels(cb, gw);
    const row = modelRow(p.page, 'mock-chat');
    await row.getByRole('button', { name: 'Edit model mock-chat' }).click();
    const md = p.page.getByRole('dialog', { name: 'Edit model mock-chat' });
    await p.screenshot('models-edit');
    await md.getByLabel('Status').selectOption('DEPRECATED');
    await md.getByRole('button', { name: 'Save model' }).click();
    const confirm = p.page.getByRole('dialog', { name: 'Set mock-chat to DEPRECATED?' });
    await confirm.getByText('deprecation warning').waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect((await gw.gql<{ model: { status: string } }>('{ model(name: "mock-chat") { status } }')).data?.model.status).toBe('ACTIVE');

    await md.getByRole('button', { name: 'Save model' }).click();
    await confirm.getByRole('button', { name: 'Set DEPRECATED' }).click();
    await md.waitFor({ state: 'hidden' });
    await row.getByText('DEPRECATED', { exact: true }).waitFor();
    const call = await gw.gql(CHAT, { m: 'mock-chat' });
    expect(call.errors).toBeUndefined();
    expect(JSON.stringify(call.extensions?.warnings)).toContain('deprecated');

    // retiring says calls will fail, and they do
    await row.getByRole('button', { name: 'Edit model mock-chat' }).click();
    await md.getByLabel('Status').selectOption('RETIRED');
    await md.getByRole('button', { name: 'Save model' }).click();
    const retire = p.page.getByRole('dialog', { name: 'Set mock-chat to RETIRED?' });
    await retire.getByText('MODEL_RETIRED').waitFor();
    await retire.getByRole('button', { name: 'Set RETIRED' }).click();
    await md.waitFor({ state: 'hidden' });
    await row.getByText('RETIRED', { exact: true }).waitFor();
    expect((await gw.gql(CHAT, { m: 'mock-chat' })).errors?.[0]?.extensions?.code).toBe('MODEL_RETIRED');
    expectNoProblems(p);
    await p.close();
  });

  it('refuses to delete a provider a model routes to with the gateway’s message; switches the provider off keeping its credential; deletes the model and the provider', async () => {
    const p = await openModels(cb, gw);
    const providers = p.page.getByRole('region', { name: 'Providers' });
    await providers.getByRole('button', { name: 'Delete provider mock-openai' }).click();
    const dp = p.page.getByRole('dialog', { name: 'Delete provider mock-openai?' });
    await dp.getByRole('button', { name: 'Delete' }).click();
    const refusal = await dp.getByRole('alert').innerText();
    expect(refusal).toBe('name: provider "mock-openai" is still routed to by model(s): mock-chat (BAD_USER_INPUT)');
    await dp.getByRole('button', { name: 'Cancel' }).click();
    expect((await gw.gql<{ providers: Array<{ name: string }> }>('{ providers { name } }')).data?.providers.map((x) => x.name)).toContain('mock-openai');

    // switching routing off keeps the stored credential (the key field is write-only; empty keeps it)
    await providers.getByRole('button', { name: 'Edit provider mock-openai' }).click();
    const ep = p.page.getByRole('dialog', { name: 'Edit provider mock-openai' });
    expect(await ep.getByLabel(/^API key/).inputValue()).toBe('');
    await ep.getByRole('checkbox', { name: /Enabled/ }).uncheck();
    await ep.getByRole('button', { name: 'Save provider' }).click();
    await ep.waitFor({ state: 'hidden' });
    const providerRow = providers.locator('tr', { hasText: 'mock-openai' });
    await providerRow.getByText('disabled').waitFor();
    expect(await providerRow.getByText('stored').count()).toBe(1);
    const disabled = (await gw.gql<{ providers: Array<{ name: string; enabled: boolean; hasCredential: boolean }> }>('{ providers { name enabled hasCredential } }')).data?.providers;
    expect(disabled?.find((x) => x.name === 'mock-openai')).toEqual({ name: 'mock-openai', enabled: false, hasCredential: true });

    await modelRow(p.page, 'mock-chat').getByRole('button', { name: 'Delete model mock-chat' }).click();
    const dm = p.page.getByRole('dialog', { name: 'Delete model mock-chat?' });
    await dm.getByRole('button', { name: 'Delete' }).click();
    await dm.waitFor({ state: 'hidden' });
    await modelRow(p.page, 'mock-chat').waitFor({ state: 'detached' });
    expect((await gw.gql(CHAT, { m: 'mock-chat' })).errors?.[0]?.extensions?.code).toBe('MODEL_NOT_FOUND');

    await providers.getByRole('button', { name: 'Delete provider mock-openai' }).click();
    await dp.getByRole('button', { name: 'Delete' }).click();
    await dp.waitFor({ state: 'hidden' });
    await providers.getByText('mock-openai').waitFor({ state: 'detached' });
    expectNoProblems(p);
    await p.close();
  });

  it('creates a Bedrock provider with its region (the credential never shows); a model without prices shows its catalogue price source', async () => {
    const BEDROCK_CREDENTIAL = 'AKIAEXAMPLE:secretexample';
    const p = await openModels(cb, gw);
    await p.page.getByRole('button', { name: 'New provider' }).click();
    const pd = p.page.getByRole('dialog', { name: 'New provider' });
    await pd.getByLabel('Provider name').fill('bedrock-east');
    await pd.getByLabel('Kind').selectOption('BEDROCK');
    await pd.getByLabel('Region').fill('us-east-1');
    await pd.getByLabel(/^Credential.*accessKeyId:secretAccessKey/).fill(BEDROCK_CREDENTIAL);
    await pd.getByRole('button', { name: 'Create provider' }).click();
    await pd.waitFor({ state: 'hidden' });
    const providerRow = p.page.getByRole('region', { name: 'Providers' }).locator('tr', { hasText: 'bedrock-east' });
    await providerRow.getByText('region us-east-1').waitFor();
    await providerRow.getByText('stored').waitFor();
    const listed = await gw.gql<{ providers: Array<{ name: string; kind: string; hasCredential: boolean; settings: { region: string | null } | null }> }>(
      '{ providers { name kind hasCredential settings { region } } }',
    );
    expect(listed.data?.providers.find((x) => x.name === 'bedrock-east')).toEqual({ name: 'bedrock-east', kind: 'BEDROCK', hasCredential: true, settings: { region: 'us-east-1' } });
    expect(await p.page.content()).not.toContain(BEDROCK_CREDENTIAL);
    expect(await p.page.content()).not.toContain('secretexample');
    await p.screenshot('providers-bedrock');

    // no operator prices on a target the bundled catalogue lists: the row says where its prices come from
    const created = await gw.gql('mutation($input: CreateProviderInput!) { createProvider(input: $input) { id } }', {
      input: { name: 'openai-catalogue', kind: 'OPENAI', apiKey: 'sk-test-catalogue' },
    });
    expect(created.errors).toBeUndefined();
    const model = await gw.gql<{ createModel: { priceSource: string } }>('mutation($input: CreateModelInput!) { createModel(input: $input) { priceSource } }', {
      input: { name: 'catalogue-priced', targets: [{ provider: 'openai-catalogue', upstreamModel: 'gpt-4o-mini' }] },
    });
    expect(model.errors).toBeUndefined();
    expect(model.data?.createModel.priceSource).toBe('CATALOGUE');
    await p.page.reload();
    await p.page.getByRole('heading', { name: 'Providers and models' }).waitFor();
    const row = modelRow(p.page, 'catalogue-priced');
    await row.getByText(/^catalogue \S+/).waitFor();
    expect(await row.innerText()).not.toContain('no price');
    expectNoProblems(p);
    await p.close();
  });
});

if (!hasChromium) {
  describe('the Providers and models page', () => {
    it('needs Chromium', (ctx) => ctx.skip(SKIP_NOTE));
  });
}
