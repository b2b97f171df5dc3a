/* The console's usage explorer in headless Chromium: pages forward and back by cursor, filters re-query, the CSV
 * export holds every filtered record, and a READ_USAGE key sees only its own. */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../gateway/helpers.js';
import type { AnyJson } from '../kit/json.js';
import { PIPELINE } from '../../src/gateway/pipeline.js';
import { fakeCacheStep } from '../kit/fake-cache-step.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { DESKTOP, expectNoProblems, hasChromium, launchConsoleBrowser, PHONE, SKIP_NOTE, type ConsoleBrowser, type ConsolePage } from './console-kit.js';
import { call, seedUsage, XSS_NAME, XSS_SCRIPT, type UsageSeed } from './usage-seed.js';

const table = (page: Page) => page.getByRole('table', { name: 'Usage records' });
const shownIds = (page: Page) => table(page).locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-invocation')));

/** RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (c === '"') quoted = !quoted;
    else if (quoted || (c !== ',' && c !== '\r')) field += c;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

async function exportCsv(p: ConsolePage): Promise<string[][]> {
  const [download] = await Promise.all([p.page.waitForEvent('download'), p.page.getByRole('button', { name: 'Export CSV' }).click()]);
  expect(download.suggestedFilename()).toMatch(/^usage-\d{8}-\d{4}\.csv$/);
  return parseCsv(readFileSync((await download.path())!, 'utf8'));
}

describe.runIf(hasChromium)('the usage explorer', () => {
  let gw: TestGateway;
  let cb: ConsoleBrowser;
  let seed: UsageSeed;
  beforeAll(async () => {
    // a stand-in for the response cache, so some records are cache hits
    gw = await startGateway({}, { steps: [...PIPELINE, fakeCacheStep] });
    const bulk = async () => {
      // more echo-large records than one page of the connection holds, for the export
      for (let i = 0; i < 520; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => call(gw, 'echo-large', undefined, { bulk: i + j })));
      await gw.flushUsage();
    };
    [cb, seed] = await Promise.all([launchConsoleBrowser(), seedUsage(gw, 24).then(async (s) => (await bulk(), s))]);
  }, 90_000);
  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
  });

  async function openUsage(key: string, viewport = DESKTOP): Promise<ConsolePage> {
    const p = await cb.open(viewport);
    await p.signIn(gw.url, key);
    await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Usage', exact: true }).click();
    await table(p.page).waitFor();
    return p;
  }

  /** The invocation ids the API answers for a filter, newest first */
  async function apiIds(filter: Record<string, unknown>, key = gw.adminKey): Promise<string[]> {
    const data = ok(await gw.gql<AnyJson>('query($f: UsageFilter) { usage(filter: $f, first: 500) { edges { node { invocationId } } } }', { f: filter }, key));
    return data.usage.edges.map((e: AnyJson) => e.node.invocationId);
  }

  it('pages older and newer by cursor', async () => {
    const all = await apiIds({});
    expect(all.length).toBeGreaterThan(20);
    const p = await openUsage(gw.adminKey);
    await expect.poll(() => shownIds(p.page)).toEqual(all.slice(0, 50));
    await p.page.getByLabel('Per page').selectOption('10');
    await expect.poll(() => shownIds(p.page)).toEqual(all.slice(0, 10));
    const newer = p.page.getByRole('button', { name: /Newer/ });
    const older = p.page.getByRole('button', { name: /Older/ });
    expect(await newer.isDisabled()).toBe(true);
    await older.click();
    await expect.poll(() => shownIds(p.page)).toEqual(all.slice(10, 20));
    await p.page.getByText('Page 2').waitFor();
    await older.click();
    await expect.poll(() => shownIds(p.page)).toEqual(all.slice(20, 30));
    await newer.click();
    await expect.poll(() => shownIds(p.page)).toEqual(all.slice(10, 20));
    await newer.click();
    await expect.poll(() => shownIds(p.page)).toEqual(all.slice(0, 10));
    await expect.poll(() => newer.isDisabled()).toBe(true);
    // the explorer is a query, not a feed: a new call shows on Refresh
    const fresh = await call(gw, 'echo-mini');
    await gw.flushUsage();
    await p.page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => shownIds(p.page)).toEqual([fresh, ...all.slice(0, 9)]);
    expectNoProblems(p);
    await p.close();
  });

  it('filters re-query the gateway, and its refusals are shown with their code', async () => {
    const p = await openUsage(gw.adminKey);
    await p.page.getByLabel('Per page').selectOption('25');
    await p.page.getByLabel('Model').selectOption('echo-mini');
    await expect.poll(() => shownIds(p.page)).toEqual((await apiIds({ model: 'echo-mini' })).slice(0, 25));
    await p.screenshot('usage');
    await p.page.getByLabel('Per page').selectOption('10');
    await p.page.getByLabel('Model').selectOption('echo-large');
    const large = await apiIds({ model: 'echo-large' });
    await expect.poll(() => shownIds(p.page)).toEqual(large.slice(0, 10));
    await p.page.getByLabel('Key').selectOption({ label: 'reader-app' });
    const readerLarge = await apiIds({ model: 'echo-large', apiKeyId: seed.reader.id });
    expect(readerLarge.length).toBeGreaterThan(0);
    await expect.poll(() => shownIds(p.page)).toEqual(readerLarge.slice(0, 10));
    await p.page.getByLabel('Status').selectOption('ERROR');
    await p.page.getByText('No usage matches these filters').waitFor();
    await p.page.getByLabel('Model').selectOption('');
    await p.page.getByLabel('Key').selectOption('');
    const failed = await apiIds({ status: 'ERROR' });
    expect(failed).toHaveLength(2);
    await expect.poll(() => shownIds(p.page)).toEqual(failed);
    await p.page.getByLabel('Provider').selectOption('unreachable');
    await expect.poll(() => shownIds(p.page)).toEqual(failed);
    await p.page.getByLabel('Provider').selectOption('echo');
    await p.page.getByText('No usage matches these filters').waitFor();
    await p.page.getByLabel('Status').selectOption('');
    await p.page.getByLabel('From').fill('2001-01-01T00:00');
    await p.page.getByLabel('To').fill('2001-02-01T00:00');
    await p.page.getByText('No usage matches these filters').waitFor();
    // the gateway's own refusal, with its code
    await p.page.getByLabel('From').fill('2001-03-01T00:00');
    await expect.poll(() => p.page.getByRole('alert').innerText()).toContain('BAD_USER_INPUT');
    expectNoProblems(p);
    await p.close();
  });

  it('takes a link whose times are not times: they are left out, the rest of the filter applies', async () => {
    const p = await cb.open();
    await p.signIn(gw.url, gw.adminKey);
    await p.page.goto(`${gw.url}/console/usage?from=abc&to=2026-13-45&model=echo-mini`);
    await table(p.page).waitFor();
    await expect.poll(() => shownIds(p.page)).toEqual((await apiIds({ model: 'echo-mini' })).slice(0, (await shownIds(p.page)).length));
    expect((await shownIds(p.page)).length).toBeGreaterThan(0);
    expect(await p.page.getByLabel('From').inputValue()).toBe('');
    expectNoProblems(p);
    await p.close();
  });

  it('exports every filtered record as CSV, quoting what needs it', async () => {
    // a name a spreadsheet would run as a formula is written as text
    const formula = await gw.createKey({ name: '=HYPERLINK("http://x","y"),1', scopes: ['INVOKE'] });
    await call(gw, 'echo', formula.secret);
    await gw.flushUsage();
    const p = await openUsage(gw.adminKey);
    await p.page.getByLabel('Model').selectOption('echo');
    const expected = await apiIds({ model: 'echo' });
    await expect.poll(() => shownIds(p.page)).toEqual(expected.slice(0, 50));
    const rows = await exportCsv(p);
    const [header, ...body] = rows;
    expect(header).toEqual(['createdAt', 'invocationId', 'keyName', 'keyId', 'model', 'provider', 'upstreamModel', 'status', 'errorCode', 'streamed', 'promptTokens', 'completionTokens', 'costUsd', 'latencyMs', 'ttftMs', 'attempts', 'metadata']);
    expect(body.map((r) => r[1])).toEqual(expected);
    expect(new Set(body.map((r) => r[4]))).toEqual(new Set(['echo']));
    for (const r of body) expect(r).toHaveLength(header.length);
    const hostile = body.find((r) => r[2] === XSS_NAME && r[16].includes('note'));
    expect(hostile).toBeDefined();
    expect(JSON.parse(hostile![16])).toEqual({ note: XSS_SCRIPT, html: XSS_NAME });
    expect(body.find((r) => r[3] === formula.id)![2]).toBe(`'=HYPERLINK("http://x","y"),1`);
    const withTeam = body.find((r) => r[16].includes('team'))!;
    expect(JSON.parse(withTeam[16])).toMatchObject({ team: expect.any(String) });
    await p.page.getByText(`Exported ${expected.length} records.`).waitFor();
    expectNoProblems(p);
    await p.close();
  });

  it('exports more records than one page of the connection holds', async () => {
    const count = ok(await gw.gql<AnyJson>('{ usageSummary(groupBy: MODEL, filter: { model: "echo-large" }) { requests } }')).usageSummary[0].requests;
    expect(count).toBeGreaterThan(500);
    const p = await openUsage(gw.adminKey);
    await p.page.getByLabel('Model').selectOption('echo-large');
    const first500 = await apiIds({ model: 'echo-large' });
    await expect.poll(() => shownIds(p.page)).toEqual(first500.slice(0, 50));
    const [, ...body] = await exportCsv(p);
    expect(body).toHaveLength(count);
    expect(body.slice(0, 500).map((r) => r[1])).toEqual(first500);
    expect(new Set(body.map((r) => r[1])).size).toBe(count);
    const times = body.map((r) => Date.parse(r[0]));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expectNoProblems(p);
    await p.close();
  });

  it('shows an INVOKE+READ_USAGE key only its own records, with no key filter, and user content as text', async () => {
    const own = await apiIds({}, seed.reader.secret);
    expect(own.length).toBeLessThan((await apiIds({})).length);
    const p = await openUsage(seed.reader.secret, PHONE);
    let dialogs = 0;
    p.page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await expect.poll(() => shownIds(p.page)).toEqual(own);
    expect(await p.page.getByLabel('Key', { exact: true }).count()).toBe(0);
    await p.screenshot('usage-phone');
    await p.close();

    const admin = await openUsage(gw.adminKey);
    admin.page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await admin.page.getByLabel('Key').selectOption({ label: XSS_NAME });
    const hostileRow = table(admin.page).locator('tbody tr').filter({ hasText: 'echo' }).first();
    await expect.poll(() => hostileRow.locator('td:nth-child(2)').innerText()).toBe(XSS_NAME);
    const ids = await apiIds({ apiKeyId: seed.hostile.id });
    await admin.page.locator(`tr[data-invocation="${ids[0]}"]`).click();
    const drawer = admin.page.getByRole('dialog', { name: 'Usage record' });
    expect(JSON.parse(await drawer.getByLabel('Metadata').innerText())).toEqual({ note: XSS_SCRIPT, html: XSS_NAME });
    expect(await admin.page.locator('img[src="x"]').count()).toBe(0);
    expect(dialogs).toBe(0);
    expectNoProblems(admin);
    expectNoProblems(p);
    await admin.close();
  });

  it('says in the Cache column which records the cache answered, and how closely a semantic hit matched', async () => {
    for (const content of ['hit exact one', 'hit semantic two']) {
      ok(await gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input: { model: 'echo-mini', messages: [{ role: 'USER', content }] } }));
    }
    await gw.flushUsage();
    const p = await openUsage(gw.adminKey);
    const cacheColumn = await table(p.page).locator('thead th').allTextContents();
    const cell = (row: number) => table(p.page).locator('tbody tr').nth(row).locator(`td:nth-child(${cacheColumn.indexOf('Cache') + 1})`);
    expect(cacheColumn).toContain('Cache');
    // newest first: the semantic hit, the exact one, then calls the upstream answered
    await expect.poll(() => cell(0).innerText()).toBe('Semantic 0.97');
    expect(await cell(1).innerText()).toBe('Exact');
    expect(await cell(1).getAttribute('title')).toMatch(/^Saved \$/);
    expect(await cell(2).innerText()).toBe('–');
    expectNoProblems(p);
    await p.close();
  });
});

if (!hasChromium) {
  describe('the usage explorer', () => {
    it('needs Chromium', (ctx) => ctx.skip(SKIP_NOTE));
  });
}
