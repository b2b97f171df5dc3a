/* The console's frame in a real browser: served offline by the gateway under a strict CSP, compressed and cached
 * files, sign-in with a pasted key kept in sessionStorage only, and pages shown by what `viewer` says the key may do. */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectNoProblems, hasChromium, launchConsoleBrowser, PHONE, SKIP_NOTE, type ConsoleBrowser } from './console-kit.js';

const ALL_PAGES = ['Overview', 'Live tail', 'Usage', 'Calls', 'Keys', 'Models', 'Teams', 'Access', 'Prompts', 'Playground'];

describe('the console is served by the gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw?.stop());

  it('sends a browser at / to the console, and leaves other clients alone', async () => {
    const browser = await fetch(`${gw.url}/`, { redirect: 'manual', headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(browser.status).toBe(302);
    expect(browser.headers.get('location')).toBe('/console/');
    const api = await fetch(`${gw.url}/`, { redirect: 'manual', headers: { accept: 'application/json' } });
    expect(api.status).not.toBe(302);
  });

  it('answers every console path with the page under a CSP that allows no inline script, and its files hashed, compressed and immutable', async () => {
    for (const path of ['/console', '/console/', '/console/keys', '/console/usage?x=1']) {
      const res = await fetch(`${gw.url}${path}`, { headers: { 'accept-encoding': 'br' } });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    const html = await (await fetch(`${gw.url}/console/`)).text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    let firstPageGzip = 0;
    for (const asset of assets) {
      expect(asset).toMatch(/\.[A-Za-z0-9]{8,}\.(js|css|svg)$/);
      const br = await fetch(`${gw.url}${asset}`, { headers: { 'accept-encoding': 'br' } });
      expect(br.status).toBe(200);
      expect(br.headers.get('content-encoding')).toBe('br');
      expect(br.headers.get('cache-control')).toContain('immutable');
      const gz = await fetch(`${gw.url}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(gz.headers.get('content-encoding')).toBe('gzip');
      const plain = Buffer.from(await (await fetch(`${gw.url}${asset}`, { headers: { 'accept-encoding': 'identity' } })).arrayBuffer());
      firstPageGzip += gzipSync(plain, { level: 9 }).length;
    }
    // issue 22's goal for the first page: under 300 KB gzipped
    expect(firstPageGzip).toBeLessThan(300 * 1024);
    expect((await fetch(`${gw.url}/console/assets/nope.12345678.js`)).status).toBe(404);
    // the page is served only as the page, with its headers, never as a cacheable asset
    expect((await fetch(`${gw.url}/console/assets/index.html`)).status).toBe(404);
    expect((await fetch(`${gw.url}/console/`, { method: 'POST' })).status).toBe(405);
  });
});

describe.runIf(hasChromium)('the console in headless Chromium', () => {
  let gw: TestGateway;
  let cb: ConsoleBrowser;
  beforeAll(async () => {
    gw = await startGateway();
    cb = await launchConsoleBrowser();
  }, 90_000);
  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
  });

  it('signs in with a pasted key kept in sessionStorage only, refuses a bad key, survives a reload and signs out', async () => {
    const p = await cb.open(undefined, { allowedStatuses: [401] });
    await p.page.goto(`${gw.url}/`);
    expect(new URL(p.page.url()).pathname).toBe('/console/');
    await p.page.getByLabel('API key').waitFor();
    await p.screenshot('sign-in');

    await p.page.getByLabel('API key').fill('gw_not_a_real_key_000000000000000000000000');
    await p.page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => p.page.getByRole('alert').innerText()).toContain('not valid');

    await p.signIn(gw.url, gw.adminKey);
    const nav = p.page.getByRole('navigation', { name: 'Console' });
    for (const name of ALL_PAGES) await expect.poll(() => nav.getByRole('link', { name, exact: true }).count()).toBe(1);
    expect(p.page.url()).not.toContain(gw.adminKey);
    expect(await p.page.evaluate(() => JSON.stringify(localStorage))).not.toContain(gw.adminKey);
    expect(await p.page.evaluate(() => JSON.stringify(sessionStorage))).toContain(gw.adminKey);

    await p.page.reload();
    await nav.waitFor();
    await nav.getByRole('link', { name: 'Keys', exact: true }).click();
    await p.page.getByRole('heading', { name: 'Keys', exact: true }).waitFor();
    expect(new URL(p.page.url()).pathname).toBe('/console/keys');
    // every request stayed on the gateway: no CDN
    expect(p.requests.filter((u) => !u.startsWith(gw.url) && !u.startsWith('ws://') && !u.startsWith('data:'))).toEqual([]);

    await p.page.getByRole('button', { name: 'Sign out' }).click();
    await p.page.getByLabel('API key').waitFor();
    expect(await p.page.evaluate(() => JSON.stringify(sessionStorage))).not.toContain(gw.adminKey);
    // the bad key's 401 was expected; nothing else went wrong
    expect(p.problems.filter((x) => !x.includes('401'))).toEqual([]);
    await p.close();
  });

  it('shows an INVOKE and READ_USAGE key its own pages only, and sends it home from an admin page', async () => {
    const key = await gw.createKey({ name: 'reader', scopes: ['INVOKE', 'READ_USAGE'] });
    const p = await cb.open();
    await p.signIn(gw.url, key.secret);
    const nav = p.page.getByRole('navigation', { name: 'Console' });
    await nav.getByRole('link', { name: 'Overview', exact: true }).waitFor();
    const shown = await nav.getByRole('link').allInnerTexts();
    expect(shown).toEqual(['Overview', 'Live tail', 'Usage', 'Calls', 'Prompts', 'Playground']);
    await p.page.goto(`${gw.url}/console/keys`);
    await nav.waitFor();
    await expect.poll(() => new URL(p.page.url()).pathname).toBe('/console/');
    expectNoProblems(p);
    await p.close();
  });

  it('fits a phone screen', async () => {
    const p = await cb.open(PHONE);
    await p.signIn(gw.url, gw.adminKey);
    const width = await p.page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(PHONE.width);
    await p.screenshot('phone-frame');
    expectNoProblems(p);
    await p.close();
  });
});

if (!hasChromium) {
  describe('the console in headless Chromium', () => {
    it('needs Chromium', (ctx) => ctx.skip(SKIP_NOTE));
  });
}
