/* The console's overview in headless Chromium: headline numbers and groups agree with the API, follow new calls
 * without a reload, and a READ_USAGE key sees only its own usage. */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../gateway/helpers.js';
import type { AnyJson } from '../kit/json.js';
import { PIPELINE } from '../../src/gateway/pipeline.js';
import { fakeCacheStep } from '../kit/fake-cache-step.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { DESKTOP, expectNoProblems, hasChromium, launchConsoleBrowser, PHONE, SKIP_NOTE, type ConsoleBrowser, type ConsolePage } from './console-kit.js';
import { call, seedUsage, XSS_NAME, type UsageSeed } from './usage-seed.js';

const stat = (page: Page, id: string) => page.getByTestId(id).locator('.stat-value').innerText();
const requestsShown = async (page: Page) => Number((await stat(page, 'stat-requests')).replace(/,/g, ''));
const groupRows = (page: Page) => page.getByRole('table', { name: 'Groups' }).locator('tbody tr');

describe.runIf(hasChromium)('the overview', () => {
  let gw: TestGateway;
  let cb: ConsoleBrowser;
  let seed: UsageSeed;
  beforeAll(async () => {
    // a stand-in for the response cache, so the headline numbers have hits to show
    gw = await startGateway({}, { steps: [...PIPELINE, fakeCacheStep] });
    [cb, seed] = await Promise.all([launchConsoleBrowser(), seedUsage(gw, 20)]);
  }, 90_000);
  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
  });

  async function openOverview(key: string, viewport = DESKTOP): Promise<ConsolePage> {
    const p = await cb.open(viewport);
    await p.signIn(gw.url, key);
    await p.page.getByRole('heading', { name: 'Overview' }).waitFor();
    await p.page.getByRole('table', { name: 'Groups' }).waitFor();
    return p;
  }

  /** What the API counts over the last day, grouped */
  async function summary(groupBy: string, key = gw.adminKey): Promise<Array<{ key: string; requests: number; costUsd: number }>> {
    const from = new Date(Date.now() - 86_400_000).toISOString();
    return ok(await gw.gql<AnyJson>('query($g: UsageGroupBy!, $f: UsageFilter) { usageSummary(groupBy: $g, filter: $f) { key requests costUsd } }', { g: groupBy, f: { from } }, key)).usageSummary;
  }
  const sum = (buckets: Array<{ requests: number }>) => buckets.reduce((n, b) => n + b.requests, 0);

  it("agrees with the API, and counts a new call while open, without a reload", async () => {
    const models = await summary('MODEL');
    const p = await openOverview(gw.adminKey);
    await expect.poll(() => requestsShown(p.page)).toBe(sum(models));
    const names = await groupRows(p.page).locator('td:first-child').allInnerTexts();
    expect(new Set(names)).toEqual(new Set(models.map((m) => m.key)));
    await p.page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));

    // the feed may not be subscribed at the first call: call until the count moves, then it must be exact
    const before = await requestsShown(p.page);
    let moved = false;
    for (let i = 0; i < 20 && !moved; i++) {
      await call(gw, 'echo-large');
      moved = await expect
        .poll(() => requestsShown(p.page), { timeout: 1500 })
        .toBeGreaterThan(before)
        .then(() => true, () => false);
    }
    expect(moved).toBe(true);
    await gw.flushUsage();
    await call(gw, 'echo-mini');
    await gw.flushUsage();
    const now = sum(await summary('MODEL'));
    await expect.poll(() => requestsShown(p.page)).toBe(now);
    expect(await p.page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
    // the seed's streamed calls have a time to first token
    expect(await stat(p.page, 'stat-ttft')).toMatch(/\d+ ms/);
    // the headline percentiles are the whole window's, as usageSummary without a grouping gives them
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const whole = ok(await gw.gql<AnyJson>('query($f: UsageFilter) { usageSummary(filter: $f) { key requests p50LatencyMs p95LatencyMs p50TtftMs } }', { f: { from } })).usageSummary;
    expect(whole).toHaveLength(1);
    expect(whole[0].requests).toBe(now);
    const ms = (n: number) => (n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(2)} s`);
    expect(await stat(p.page, 'stat-p50')).toBe(ms(whole[0].p50LatencyMs));
    expect(await stat(p.page, 'stat-p95')).toBe(ms(whole[0].p95LatencyMs));
    expect(await stat(p.page, 'stat-ttft')).toBe(ms(whole[0].p50TtftMs));
    await p.screenshot('overview');
    await p.page.getByRole('group', { name: 'Range' }).getByRole('button', { name: 'Last hour' }).click();
    await p.page.getByText('A point a minute').waitFor();
    await expect.poll(() => requestsShown(p.page)).toBe(now);
    await p.screenshot('overview-last-hour');
    expectNoProblems(p);
    await p.close();
  });

  it('shows the cache hit rate and the cost the cache saved, as usageSummary gives them', async () => {
    for (const content of ['hit exact one', 'hit semantic two']) {
      ok(await gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input: { model: 'echo-large', messages: [{ role: 'USER', content }] } }));
    }
    await gw.flushUsage();
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const [whole] = ok(await gw.gql<AnyJson>('query($f: UsageFilter) { usageSummary(filter: $f) { cacheHits cacheHitRate costSavedUsd } }', { f: { from } })).usageSummary;
    expect(whole.cacheHits).toBe(2);
    expect(whole.costSavedUsd).toBeGreaterThan(0.01);
    const p = await openOverview(gw.adminKey);
    // as the console formats them: a percentage to one decimal, dollars to the cent
    await expect.poll(() => stat(p.page, 'stat-cache-hit-rate')).toBe(`${(whole.cacheHitRate * 100).toFixed(1)} %`);
    expect(await stat(p.page, 'stat-cost-saved')).toBe(`$${whole.costSavedUsd.toFixed(2)}`);
    expectNoProblems(p);
    await p.close();
  });

  it('groups by key with names shown as text, leads from a group to its records, and takes a custom range', async () => {
    const p = await openOverview(gw.adminKey);
    let dialogs = 0;
    p.page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await p.page.getByRole('group', { name: 'Group by' }).getByRole('button', { name: 'Key' }).click();
    await expect.poll(() => groupRows(p.page).locator('td:first-child').allInnerTexts()).toContain(XSS_NAME);
    expect(await p.page.locator('img[src="x"]').count()).toBe(0);
    const byKey = await summary('API_KEY');
    for (const b of byKey) expect(await groupRows(p.page).filter({ has: p.page.locator(`a[href*="${encodeURIComponent(b.key)}"]`) }).locator('td:nth-child(2)').innerText()).toBe(String(b.requests));

    // a group's name leads to its records in the explorer, filtered by the address
    await p.page.getByRole('table', { name: 'Groups' }).getByRole('link', { name: 'reader-app' }).click();
    await p.page.getByRole('heading', { name: 'Usage', exact: true }).waitFor();
    expect(new URL(p.page.url()).searchParams.get('apiKeyId')).toBe(seed.reader.id);
    const readerRows = p.page.getByRole('table', { name: 'Usage records' }).locator('tbody tr');
    await expect.poll(() => readerRows.count()).toBe(sum(await summary('MODEL', seed.reader.secret)));
    expect(new Set(await readerRows.locator('td:nth-child(2)').allInnerTexts())).toEqual(new Set(['reader-app']));
    await p.page.goBack();
    await p.page.getByRole('heading', { name: 'Overview' }).waitFor();
    await p.page.getByRole('group', { name: 'Group by' }).getByRole('button', { name: 'Key' }).click();
    await expect.poll(() => groupRows(p.page).locator('td:first-child').allInnerTexts()).toContain(XSS_NAME);
    expect(await p.page.locator('img[src="x"]').count()).toBe(0);
    await p.page.getByRole('group', { name: 'Range' }).getByRole('button', { name: 'Custom' }).click();
    await p.page.getByLabel('From').fill('2001-01-01T00:00');
    await p.page.getByLabel('To').fill('2001-01-02T00:00');
    await p.page.getByText('No usage in this window').waitFor();
    expect(await stat(p.page, 'stat-requests')).toBe('0');
    expect(dialogs).toBe(0);
    expectNoProblems(p);
    await p.close();
  });

  it('shows an INVOKE+READ_USAGE key its own usage only', async () => {
    const own = await summary('MODEL', seed.reader.secret);
    expect(sum(own)).toBeLessThan(sum(await summary('MODEL')));
    const p = await openOverview(seed.reader.secret, PHONE);
    await expect.poll(() => requestsShown(p.page)).toBe(sum(own));
    await p.page.getByRole('group', { name: 'Group by' }).getByRole('button', { name: 'Key' }).click();
    await expect.poll(() => groupRows(p.page).locator('td:first-child').allInnerTexts()).toEqual(['reader-app']);
    await p.page.getByRole('group', { name: 'Group by' }).getByRole('button', { name: 'Model' }).click();
    await expect.poll(() => groupRows(p.page).count()).toBe(own.length);
    await p.screenshot('overview-phone');
    expect(await p.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    expectNoProblems(p);
    await p.close();
  });
});

if (!hasChromium) {
  describe('the overview', () => {
    it('needs Chromium', (ctx) => ctx.skip(SKIP_NOTE));
  });
}
