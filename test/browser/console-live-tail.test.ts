/* The console's live tail in headless Chromium: records arrive as calls are made, pause holds them back, filters
 * and the details drawer work, a READ_USAGE key sees only its own, and user content is shown as text. */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, sleep } from '../gateway/helpers.js';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { DESKTOP, expectNoProblems, hasChromium, PHONE, launchConsoleBrowser, SKIP_NOTE, type ConsoleBrowser, type ConsolePage } from './console-kit.js';
import { call, seedUsage, XSS_NAME, XSS_SCRIPT, type UsageSeed } from './usage-seed.js';

const rows = (page: Page) => page.getByRole('table', { name: 'Live usage records' }).locator('tbody tr');
const row = (page: Page, invocationId: string) => page.locator(`tr[data-invocation="${invocationId}"]`);

describe.runIf(hasChromium)('the live tail', () => {
  let gw: TestGateway;
  let cb: ConsoleBrowser;
  let seed: UsageSeed;
  beforeAll(async () => {
    gw = await startGateway();
    [cb, seed] = await Promise.all([launchConsoleBrowser(), seedUsage(gw, 8)]);
  }, 90_000);
  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
  });

  async function openTail(key: string, viewport = DESKTOP): Promise<ConsolePage> {
    const p = await cb.open(viewport);
    await p.signIn(gw.url, key);
    await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Live tail' }).click();
    await p.page.getByRole('heading', { name: 'Live tail' }).waitFor();
    return p;
  }

  /** The subscription starts when the page opens: call until a record shows, so the feed is known to be live */
  async function untilLive(p: ConsolePage, key?: string): Promise<string> {
    for (let i = 0; i < 40; i++) {
      const id = await call(gw, 'echo', key);
      try {
        await row(p.page, id).waitFor({ timeout: 500 });
        return id;
      } catch {
        // not subscribed yet
      }
    }
    throw new Error('the live tail never showed a call');
  }

  it('shows each call as it is recorded, newest on top; pause holds new ones back and counts them; filters and the drawer work', async () => {
    const recent = ok(await gw.gql<AnyJson>('{ usage(first: 50) { edges { node { invocationId } } } }')).usage.edges.map((e: AnyJson) => e.node.invocationId);
    const p = await openTail(gw.adminKey);
    // the latest records already written are there on opening, newest first
    await expect.poll(() => rows(p.page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-invocation')))).toEqual(recent);
    await untilLive(p);

    const large = await call(gw, 'echo-large', undefined, { team: 'search', ticket: 42 });
    await row(p.page, large).waitFor();
    expect(await rows(p.page).first().getAttribute('data-invocation')).toBe(large);
    const mine = await call(gw, 'echo-mini', seed.reader.secret);
    await row(p.page, mine).waitFor();
    expect(await rows(p.page).first().getAttribute('data-invocation')).toBe(mine);

    await p.page.getByRole('button', { name: 'Pause' }).click();
    const held = [await call(gw, 'echo'), await call(gw, 'echo-mini')];
    await expect.poll(() => p.page.getByText('Paused · 2 new').count()).toBe(1);
    await sleep(200);
    for (const id of held) expect(await row(p.page, id).count()).toBe(0);
    await p.page.getByRole('button', { name: 'Resume' }).click();
    await row(p.page, held[1]).waitFor();
    expect(await rows(p.page).first().getAttribute('data-invocation')).toBe(held[1]);
    await p.page.getByText('Live', { exact: true }).waitFor();

    const total = await rows(p.page).count();
    await p.page.getByLabel('Model').selectOption('echo-mini');
    const miniModels = await rows(p.page).locator('td:nth-child(3)').allInnerTexts();
    expect(miniModels.length).toBeGreaterThanOrEqual(2);
    expect(miniModels.length).toBeLessThan(total);
    expect(new Set(miniModels)).toEqual(new Set(['echo-mini']));
    await p.page.getByLabel('Key').selectOption({ label: 'reader-app' });
    const readerMini = await rows(p.page).evaluateAll((trs) => trs.map((tr) => [tr.children[1].textContent, tr.children[2].textContent]));
    expect(readerMini.length).toBeLessThan(miniModels.length);
    expect(new Set(readerMini.map((r) => r.join(' ')))).toEqual(new Set(['reader-app echo-mini']));
    expect(await rows(p.page).first().getAttribute('data-invocation')).toBe(mine);
    await p.page.getByLabel('Model').selectOption('');
    await p.page.getByLabel('Key').selectOption('');
    await p.page.getByLabel('Status').selectOption('ERROR');
    expect(await rows(p.page).locator('td:nth-child(5)').allInnerTexts()).toEqual(['ERROR', 'ERROR']);
    await rows(p.page).first().click();
    const failed = await p.page.getByRole('dialog', { name: 'Usage record' }).innerText();
    for (const text of ['broken-model', 'unreachable', 'UPSTREAM_ERROR']) expect(failed).toContain(text);
    await p.page.getByRole('button', { name: 'Close' }).click();
    await p.page.getByLabel('Status').selectOption('QUOTA_EXCEEDED');
    await p.page.getByText('No record matches these filters').waitFor();
    await p.page.getByLabel('Status').selectOption('OK');
    expect(await rows(p.page).count()).toBe(total - 2);

    await p.screenshot('live-tail');
    await row(p.page, large).click();
    const drawer = p.page.getByRole('dialog', { name: 'Usage record' });
    await drawer.waitFor();
    const details = await drawer.innerText();
    for (const text of [large, 'echo-large', 'echo-large-2', 'echo', 'Attempts', 'Time to first token']) expect(details).toContain(text);
    const metadata = JSON.parse(await drawer.getByLabel('Metadata').innerText());
    expect(metadata).toEqual({ team: 'search', ticket: 42 });
    await p.screenshot('live-tail-details');
    await drawer.getByRole('button', { name: 'Close' }).click();
    await drawer.waitFor({ state: 'detached' });
    expectNoProblems(p);
    await p.close();
  });

  it('shows an INVOKE+READ_USAGE key only its own calls, and user content as text', async () => {
    const p = await openTail(seed.reader.secret, PHONE);
    let dialogs = 0;
    p.page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await untilLive(p, seed.reader.secret);
    const others = [await call(gw, 'echo'), await call(gw, 'echo', seed.hostile.secret)];
    const own = await call(gw, 'echo-mini', seed.reader.secret, { html: XSS_NAME, note: XSS_SCRIPT });
    await row(p.page, own).waitFor();
    await sleep(300);
    for (const id of others) expect(await row(p.page, id).count()).toBe(0);
    expect(new Set(await rows(p.page).locator('td:nth-child(2)').allInnerTexts())).toEqual(new Set(['reader-app']));
    expect(await p.page.getByLabel('Key', { exact: true }).count()).toBe(0);
    await p.screenshot('live-tail-phone');
    expect(await p.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);

    await row(p.page, own).click();
    const drawer = p.page.getByRole('dialog', { name: 'Usage record' });
    expect(JSON.parse(await drawer.getByLabel('Metadata').innerText())).toEqual({ html: XSS_NAME, note: XSS_SCRIPT });
    expect(await p.page.locator('img[src="x"]').count()).toBe(0);
    expect(await p.page.locator('main script').count()).toBe(0);
    expect(dialogs).toBe(0);
    expectNoProblems(p);
    await p.close();
  });

  it("shows ADMIN a hostile key's name as text", async () => {
    const p = await openTail(gw.adminKey);
    let dialogs = 0;
    p.page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    const id = await untilLive(p, seed.hostile.secret);
    expect(await row(p.page, id).locator('td:nth-child(2)').innerText()).toBe(XSS_NAME);
    expect(await p.page.locator('img[src="x"]').count()).toBe(0);
    expect(dialogs).toBe(0);
    expectNoProblems(p);
    await p.close();
  });
});

if (!hasChromium) {
  describe('the live tail', () => {
    it('needs Chromium', (ctx) => ctx.skip(SKIP_NOTE));
  });
}
