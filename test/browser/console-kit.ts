/*
 * Driving the console in headless Debian Chromium (playwright-core): one browser per test file, a page that records
 * every console error, page error, CSP violation and failed request (each test ends by asserting there were none),
 * sign-in as a person does it, and screenshots at desktop and phone width.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const SKIP_NOTE = `${CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium; .ci/run does) to run the browser tests`;

export const DESKTOP = { width: 1440, height: 900 };
export const PHONE = { width: 390, height: 844 };

export interface ConsoleBrowser {
  browser: Browser;
  /** A fresh tab (own sessionStorage) at desktop size, with its problems recorded. */
  open(viewport?: { width: number; height: number }, options?: OpenOptions): Promise<ConsolePage>;
  close(): Promise<void>;
}

export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  /** Console errors, page errors, CSP violations and failed or 4xx/5xx requests so far. */
  problems: string[];
  /** Every request URL the page made. */
  requests: string[];
  /** Pastes the key on the sign-in page and waits for the console's frame. */
  signIn(baseUrl: string, key: string): Promise<void>;
  /** Saves test-artifacts/console/<name>.png (and docs/console/<name>.png when UPDATE_SCREENSHOTS is set). */
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Statuses a page may meet on purpose: a sign-in with a bad key is a 401 the console shows as a message. */
interface OpenOptions {
  allowedStatuses?: number[];
}

export async function launchConsoleBrowser(): Promise<ConsoleBrowser> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // this machine has no network: without the background-networking flags Chromium keeps dialling out
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    browser,
    open: (viewport = DESKTOP, options: OpenOptions = {}) => openPage(browser, viewport, options),
    async close() {
      await browser.close();
    },
  };
}

async function openPage(browser: Browser, viewport: { width: number; height: number }, options: OpenOptions): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  const allowed = new Set(options.allowedStatuses ?? []);
  // a CSP violation is reported to the document, not thrown
  await page.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP: ${e.violatedDirective} ${e.blockedURI}`)));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  page.on('requestfailed', (r) => {
    const failure = r.failure()?.errorText ?? '';
    // a subscription the console ends on purpose (stop, leaving a page) aborts its request
    if (failure.includes('ERR_ABORTED')) return;
    problems.push(`request failed: ${r.method()} ${r.url()} ${failure}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !allowed.has(r.status())) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return {
    page,
    context,
    problems,
    requests,
    async signIn(baseUrl, key) {
      await page.goto(`${baseUrl}/console/`);
      await page.getByLabel('API key').fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('navigation', { name: 'Console' }).waitFor({ timeout: 15_000 });
    },
    async screenshot(name) {
      const dir = join(process.cwd(), 'test-artifacts', 'console');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      // the README's pictures are refreshed on request only, so a test run leaves the work tree clean
      if (process.env.UPDATE_SCREENSHOTS) {
        mkdirSync(join(process.cwd(), 'docs', 'console'), { recursive: true });
        copyFileSync(file, join(process.cwd(), 'docs', 'console', `${name}.png`));
      }
    },
    close: () => context.close(),
  };
}

/** Ends a test: nothing went wrong in the page while it ran. */
export function expectNoProblems(p: ConsolePage): void {
  expect(p.problems).toEqual([]);
}
