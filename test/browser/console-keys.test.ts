/*
 * The console's Keys page in headless Chromium, driven as an operator would: create a key with limits and allowed
 * models and see its secret once (copied, working, gone after dismiss and reload), edit it, watch its usage bars
 * move, rotate it and revoke it behind a confirmation. Key names holding HTML are shown as text.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectNoProblems, hasChromium, launchConsoleBrowser, PHONE, SKIP_NOTE, type ConsoleBrowser, type ConsolePage } from './console-kit.js';

const XSS_NAME = 'ops <img src=x onerror=alert(1)><script>window.__xss=1</script>';
const CHAT = 'mutation($m: String!) { chat(input: { model: $m, messages: [{ role: USER, content: "one two three" }] }) { message { content } usage { totalTokens costUsd } } }';
const VIEWER = 'query { viewer { name scopes allowedModels expiresAt limits { requestsPerMinute tokensPerMinute tokensPerDay monthlyBudgetUsd } } }';

/** A key's secret, called with plain fetch as a client application would. */
async function callAs(gw: TestGateway, secret: string, query: string, variables?: Record<string, unknown>) {
  return gw.gql<Record<string, AnyJson>>(query, variables, secret);
}

const inDays = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

async function openKeys(cb: ConsoleBrowser, gw: TestGateway, viewport?: { width: number; height: number }): Promise<ConsolePage> {
  const p = await cb.open(viewport);
  // a dialog (alert from injected HTML) fails the test through the problems list
  p.page.on('dialog', (d) => {
    p.problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await p.signIn(gw.url, gw.adminKey);
  await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Keys', exact: true }).click();
  await p.page.getByRole('heading', { name: 'Keys', exact: true }).waitFor();
  return p;
}

const row = (page: Page, name: string) => page.locator('tr', { has: page.getByText(name, { exact: true }) });

async function createKeyInForm(page: Page, fields: { shot?: () => Promise<void>; name: string; rpm?: string; tpm?: string; perDay?: string; budget?: string; models?: string[]; expiresOn?: string; readUsage?: boolean }) {
  await page.getByRole('button', { name: 'New key' }).click();
  const form = page.getByRole('region', { name: 'New key' });
  await form.getByLabel('Name').fill(fields.name);
  if (fields.readUsage) await form.getByRole('checkbox', { name: /READ_USAGE/ }).check();
  if (fields.rpm) await form.getByLabel('Requests a minute').fill(fields.rpm);
  if (fields.tpm) await form.getByLabel('Tokens a minute').fill(fields.tpm);
  if (fields.perDay) await form.getByLabel('Tokens a day').fill(fields.perDay);
  if (fields.budget) await form.getByLabel('Monthly budget (USD)').fill(fields.budget);
  if (fields.expiresOn) await form.getByLabel('Expires on (UTC, optional)').fill(fields.expiresOn);
  if (fields.models) {
    await form.getByRole('checkbox', { name: /All models/ }).uncheck();
    for (const m of fields.models) await form.getByRole('checkbox', { name: m, exact: true }).check();
  }
  await fields.shot?.();
  await form.getByRole('button', { name: 'Create key' }).click();
  const notice = page.getByRole('region', { name: 'New secret' });
  await notice.waitFor();
  return (await notice.getByTestId('secret').innerText()).trim();
}

describe.runIf(hasChromium)('the Keys page', () => {
  let gw: TestGateway;
  let cb: ConsoleBrowser;
  beforeAll(async () => {
    gw = await startGateway();
    // a priced model on the echo provider, so calls spend a visible part of a budget ($0.10 a token)
    const made = await gw.gql(
      'mutation { createModel(input: { name: "echo-priced", targets: [{ provider: "echo", upstreamModel: "echo" }], inputPricePerMTok: 100000, outputPricePerMTok: 100000 }) { name } }',
    );
    expect(made.errors).toBeUndefined();
    cb = await launchConsoleBrowser();
  }, 90_000);
  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
  });

  it('creates a key with limits and allowed models; its secret is shown once, copies, works, and is gone after dismiss and reload', async () => {
    const p = await openKeys(cb, gw);
    await p.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.url });
    const expiresOn = inDays(30);
    const secret = await createKeyInForm(p.page, { name: XSS_NAME, rpm: '50', tpm: '20000', perDay: '100000', budget: '5', models: ['echo'], expiresOn, readUsage: true, shot: () => p.screenshot('keys-new') });
    expect(secret).toMatch(/^gw_/);
    await p.screenshot('keys-secret');

    await p.page.getByRole('region', { name: 'New secret' }).getByRole('button', { name: 'Copy' }).click();
    await p.page.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await p.page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

    const viewer = await callAs(gw, secret, VIEWER);
    expect(viewer.data?.viewer).toEqual({
      name: XSS_NAME,
      scopes: ['INVOKE', 'READ_USAGE'],
      allowedModels: ['echo'],
      expiresAt: `${expiresOn}T23:59:59.000Z`,
      limits: { requestsPerMinute: 50, tokensPerMinute: 20000, tokensPerDay: 100000, monthlyBudgetUsd: 5 },
    });
    const chat = await callAs(gw, secret, CHAT, { m: 'echo' });
    expect(chat.data?.chat).toMatchObject({ message: { content: 'echo: one two three' } });
    expect((await callAs(gw, secret, CHAT, { m: 'echo-priced' })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // the name is text in the table, not markup
    const r = row(p.page, XSS_NAME);
    await r.waitFor();
    expect(await r.locator('img').count()).toBe(0);
    expect(await p.page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await expect.poll(() => r.getByText('Active').count()).toBe(1);

    await p.page.getByRole('button', { name: 'Done, hide it' }).click();
    await p.page.getByRole('region', { name: 'New secret' }).waitFor({ state: 'detached' });
    expect(await p.page.content()).not.toContain(secret);
    await p.page.reload();
    await p.page.getByRole('heading', { name: 'Keys', exact: true }).waitFor();
    await row(p.page, XSS_NAME).waitFor();
    expect(await p.page.content()).not.toContain(secret);
    expect(await p.page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }))).not.toContain(secret);
    expectNoProblems(p);
    await p.close();
  });

  it('edits a key’s limits and models, and its usage bars move with the calls made with it', async () => {
    const p = await openKeys(cb, gw);
    const secret = await createKeyInForm(p.page, { name: 'budgeted app', budget: '5' });
    await p.page.getByRole('button', { name: 'Done, hide it' }).click();
    const r = row(p.page, 'budgeted app');
    const meter = (name: string) => r.getByRole('meter', { name: `${name} used` });
    expect(await meter('Monthly budget').getAttribute('aria-valuenow')).toBe('0');
    expect(await r.getByRole('meter').count()).toBe(1);

    await r.getByRole('button', { name: 'Edit budgeted app' }).click();
    const dialog = p.page.getByRole('dialog', { name: 'Edit key “budgeted app”' });
    await dialog.getByLabel('Requests a minute').fill('7');
    await dialog.getByLabel('Tokens a minute').fill('5000');
    await dialog.getByLabel('Tokens a day').fill('200');
    await dialog.getByLabel('Monthly budget (USD)').fill('4');
    await dialog.getByRole('checkbox', { name: /All models/ }).uncheck();
    await dialog.getByRole('checkbox', { name: 'echo-priced', exact: true }).check();
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const viewer = await callAs(gw, secret, VIEWER);
    expect(viewer.data?.viewer).toMatchObject({ allowedModels: ['echo-priced'], limits: { requestsPerMinute: 7, tokensPerMinute: 5000, tokensPerDay: 200, monthlyBudgetUsd: 4 } });
    await expect.poll(() => r.getByRole('meter').count()).toBe(4);

    let spent = 0;
    let tokens = 0;
    for (let i = 0; i < 2; i++) {
      const res = await callAs(gw, secret, CHAT, { m: 'echo-priced' });
      expect(res.errors).toBeUndefined();
      const usage = (res.data?.chat as { usage: { totalTokens: number; costUsd: number } }).usage;
      spent += usage.costUsd;
      tokens += usage.totalTokens;
    }
    expect(spent).toBeGreaterThan(0);
    // the page refreshes itself: no reload
    const now = async (name: string) => Number(await meter(name).getAttribute('aria-valuenow'));
    await expect.poll(() => now('Requests a minute'), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => now('Tokens a minute'), { timeout: 10_000 }).toBe(tokens);
    await expect.poll(() => now('Tokens today'), { timeout: 10_000 }).toBe(tokens);
    await expect.poll(() => now('Monthly budget'), { timeout: 10_000 }).toBeCloseTo(spent, 6);
    expect(await meter('Monthly budget').getAttribute('aria-valuemax')).toBe('4');
    expect(await meter('Requests a minute').getAttribute('aria-valuetext')).toBe('2 of 7');
    await p.screenshot('keys-bars');
    expectNoProblems(p);
    await p.close();
  });

  it('rotates a key behind a confirmation: the old secret is refused, the new one shown once works and is gone once the page is left; a refused edit shows the gateway’s error', async () => {
    const p = await openKeys(cb, gw);
    const old = await createKeyInForm(p.page, { name: 'rotating app' });
    await p.page.getByRole('button', { name: 'Done, hide it' }).click();
    await row(p.page, 'rotating app').getByRole('button', { name: 'Rotate rotating app' }).click();
    const dialog = p.page.getByRole('dialog', { name: 'Rotate key “rotating app”?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await callAs(gw, old, VIEWER)).status).toBe(200);

    await row(p.page, 'rotating app').getByRole('button', { name: 'Rotate rotating app' }).click();
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    const notice = p.page.getByRole('region', { name: 'New secret' });
    await notice.getByText('rotated').waitFor();
    const fresh = (await notice.getByTestId('secret').innerText()).trim();
    expect(fresh).toMatch(/^gw_/);
    expect(fresh).not.toBe(old);
    expect((await callAs(gw, old, VIEWER)).status).toBe(401);
    const now = await callAs(gw, fresh, CHAT, { m: 'echo' });
    expect(now.data?.chat).toMatchObject({ message: { content: 'echo: one two three' } });

    // leaving the page drops the secret: coming back shows the table only
    const nav = p.page.getByRole('navigation', { name: 'Console' });
    await nav.getByRole('link', { name: 'Models', exact: true }).click();
    await p.page.getByRole('heading', { name: 'Providers and models' }).waitFor();
    await nav.getByRole('link', { name: 'Keys', exact: true }).click();
    await row(p.page, 'rotating app').waitFor();
    expect(await p.page.getByRole('region', { name: 'New secret' }).count()).toBe(0);
    expect(await p.page.content()).not.toContain(fresh);

    // a change the gateway refuses is shown with its message and code, and nothing changes
    await row(p.page, 'rotating app').getByRole('button', { name: 'Edit rotating app' }).click();
    const edit = p.page.getByRole('dialog', { name: 'Edit key “rotating app”' });
    await edit.getByLabel('Expires on (UTC, optional)').fill('2020-01-01');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => edit.getByRole('alert').innerText()).toMatch(/expiresAt.*\(BAD_USER_INPUT\)/);
    await edit.getByRole('button', { name: 'Cancel' }).click();
    await edit.waitFor({ state: 'hidden' });
    expect((await callAs(gw, fresh, VIEWER)).data?.viewer).toMatchObject({ expiresAt: null });
    expectNoProblems(p);
    await p.close();
  });

  it('revokes a key after a confirmation: the key is refused and the table shows it revoked', async () => {
    const p = await openKeys(cb, gw, PHONE);
    const secret = await createKeyInForm(p.page, { name: 'doomed app', rpm: '10', budget: '2' });
    await p.screenshot('keys-secret-phone');
    await p.page.getByRole('button', { name: 'Done, hide it' }).click();
    expect((await callAs(gw, secret, VIEWER)).status).toBe(200);
    const r = row(p.page, 'doomed app');
    await r.getByRole('button', { name: 'Revoke doomed app' }).click();
    const dialog = p.page.getByRole('dialog', { name: 'Revoke key “doomed app”?' });
    await dialog.getByText('cannot be turned back on').waitFor();
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await r.getByText('Revoked').waitFor();
    expect(await r.getByRole('button', { name: 'Revoke doomed app' }).count()).toBe(0);
    expect((await callAs(gw, secret, VIEWER)).status).toBe(401);
    await r.scrollIntoViewIfNeeded();
    await p.screenshot('keys-phone');
    expectNoProblems(p);
    await p.close();
  });
});

if (!hasChromium) {
  describe('the Keys page', () => {
    it('needs Chromium', (ctx) => ctx.skip(SKIP_NOTE));
  });
}
