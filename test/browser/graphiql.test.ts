/* GraphiQL in a real browser: headless Debian Chromium driven by playwright-core opens /graphql (a small page whose
 * files come compressed and cacheable, all from the gateway), takes a key in the headers editor, runs the prefilled
 * chat mutation, then the prefilled chatStream subscription (over SSE) whose words arrive one by one. */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const SKIP_NOTE = `${CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium; .ci/run does) to run the browser tests`;
if (!hasChromium) console.warn(`[browser tests skipped] ${SKIP_NOTE}`);

/** Every run writes the artifact; `UPDATE_SCREENSHOTS=1` also copies it to docs/ for the README. */
const ARTIFACT = join(process.cwd(), 'test-artifacts', 'graphiql.png');
const DOCS = join(process.cwd(), 'docs', 'graphiql.png');
const SENTENCE = 'Tokens stream from the gateway into GraphiQL one word at a time while the model is still writing its answer for you';

describe.runIf(hasChromium)('GraphiQL in headless Chromium', () => {
  let gw: TestGateway;
  let browser: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let key: string;

  beforeAll(async () => {
    // a slow echo: 50 ms per word, so the stream is visibly a stream
    gw = await startGateway({}, { adapters: { ECHO: createEchoAdapter({ wordDelayMs: 50 }) } });
    key = (await gw.createKey({ name: 'playground key', scopes: ['INVOKE', 'READ_USAGE'] })).secret;
    const { chromium } = await import('playwright-core');
    userDataDir = mkdtempSync(join(tmpdir(), 'gw-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1440, height: 860 },
      // this machine has no network: without the background-networking flags Chromium keeps dialling out
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  /** Replaces the whole text of a Monaco editor (inserted as text, so no auto-closed brackets; keep it on one line). */
  async function setEditor(selector: string, text: string): Promise<void> {
    await page.locator(`${selector} .monaco-editor:visible`).first().click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(text);
  }

  /** What the result pane shows, as plain text. */
  const resultText = () => page.locator('.result-window .view-lines').first().innerText().then((t) => t.replace(/\u00a0/g, ' '));

  /** Runs one operation of the prefilled document: the run button asks which. */
  async function run(operation: string): Promise<void> {
    await page.locator('.graphiql-execute-button').click();
    await page.getByRole('menuitem', { name: operation, exact: true }).click();
  }

  it('serves the playground offline from a small page and compressed, cacheable files, and runs the prefilled chat mutation', async () => {
    const responses: Array<{ url: string; headers: Record<string, string> }> = [];
    page.on('response', (r) => responses.push({ url: r.url(), headers: r.headers() }));
    const failures: string[] = [];
    page.on('pageerror', (e) => failures.push(e.message));
    // a CSP violation is reported to the document, not thrown
    await page.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP: ${e.violatedDirective} ${e.blockedURI}`)));
    page.on('console', (m) => m.type() === 'error' && failures.push(m.text()));

    const started = Date.now();
    const html = await page.goto(`${gw.url}/graphql`);
    await page.locator('.graphiql-container').first().waitFor({ timeout: 20_000 });
    await page.locator('.graphiql-query-editor .monaco-editor').first().waitFor();
    console.info(`GraphiQL opened in ${Date.now() - started} ms`);
    expect((await html!.body()).length).toBeLessThan(20_000);
    // everything came from the gateway itself (no CDN)
    expect(responses.map((r) => r.url).filter((u) => !u.startsWith(gw.url) && !u.startsWith('data:') && !u.startsWith('blob:'))).toEqual([]);
    const files = responses.filter((r) => r.url.startsWith(`${gw.url}/graphql/graphiql/`));
    expect(files.map((f) => /\/(\w+)[.-]/.exec(new URL(f.url).pathname.slice('/graphql/graphiql'.length))?.[1])).toEqual(expect.arrayContaining(['graphiql', 'bootstrap']));
    for (const f of files) {
      expect(f.headers['content-encoding'], f.url).toBe('br');
      expect(f.headers['cache-control'], f.url).toContain('immutable');
    }

    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    await setEditor('section.graphiql-editor-tool[aria-label="Headers"]', JSON.stringify({ Authorization: `Bearer ${key}` }));
    await run('Chat');
    // the whole answer, where the stream's pane ends with its last event only
    await expect.poll(resultText, { timeout: 10_000 }).toContain('"content": "echo: Stream these words one by one"');
    expect(await resultText()).toContain('"provider": "echo"');
    expect(failures).toEqual([]);
  });

  it('runs the prefilled chatStream subscription and shows the words as they stream in', async () => {
    // the prefilled document as it is; a longer sentence in the variables both operations share
    await page.getByRole('button', { name: 'Variables', exact: true }).click();
    const variables = { input: { model: 'echo', messages: [{ role: 'USER', content: SENTENCE }] } };
    await setEditor('section.graphiql-editor-tool[aria-label="Variables"]', JSON.stringify(variables));
    // GraphiQL stores the variables once it has taken them (after its debounce)
    await expect.poll(() => page.evaluate(() => localStorage.getItem('graphiql:variables') ?? ''), { timeout: 5000 }).toContain('writing its answer');
    // lays the variables out (typed as one line: a newline in Monaco auto-closes brackets)
    await page.getByRole('button', { name: /^Prettify query/ }).click();
    await expect.poll(() => page.locator('section.graphiql-editor-tool[aria-label="Variables"] .view-lines').first().innerText(), { timeout: 5000 }).toMatch(/\n\s+"input"/);
    // back to the start of both editors, so the screenshot shows them from the left
    for (const editor of ['.graphiql-query-editor', 'section.graphiql-editor-tool[aria-label="Variables"]']) {
      await page.locator(`${editor} .monaco-editor:visible`).first().click();
      await page.keyboard.press('ControlOrMeta+Home');
    }
    // headers are not persisted in the browser's storage (the key stays out of localStorage)
    expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain(key);

    // record every text the result pane shows while the stream runs
    await page.evaluate(() => {
      const w = window as unknown as { __seen: string[] };
      w.__seen = [];
      const pane = document.querySelector('.graphiql-response')!;
      new MutationObserver(() => {
        const text = (pane.querySelector('.result-window .view-lines') as HTMLElement | null)?.innerText.replace(/\u00a0/g, ' ') ?? '';
        if (w.__seen.at(-1) !== text) w.__seen.push(text);
      }).observe(pane, { subtree: true, childList: true, characterData: true });
    });
    await run('Stream');

    // mid-stream: some words shown, not finished yet; this is the screenshot for the README
    await expect.poll(async () => /"delta": " (gateway|into|GraphiQL|one|word)"/.test(await resultText()), { timeout: 10_000, interval: 20 }).toBe(true);
    expect(await resultText()).toContain('"finishReason": null');
    mkdirSync(join(process.cwd(), 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: ARTIFACT });

    await expect.poll(resultText, { timeout: 15_000 }).toContain('"finishReason": "STOP"');
    const words = `echo: ${SENTENCE}`.split(' ');
    // echo counts one token per word
    expect(await resultText()).toContain(`"completionTokens": ${words.length}`);
    // what the prefilled document's comment says: the pane ends with the last event only
    expect(await resultText()).toContain('"delta": ""');
    expect(await resultText()).not.toContain('GraphiQL');

    // the pane showed the words one after another, in the order the model wrote them
    const seen = (await page.evaluate(() => (window as unknown as { __seen: string[] }).__seen)) as string[];
    const deltas = seen.map((t) => /"delta": "([^"]*)"/.exec(t)?.[1]).filter((d): d is string => d !== undefined && d !== '');
    const distinct = deltas.filter((d, i) => d !== deltas[i - 1]).map((d) => d.trim());
    expect(distinct.length).toBeGreaterThanOrEqual(8);
    let at = -1;
    for (const d of distinct) {
      const next = words.indexOf(d, at + 1);
      expect(next, `"${d}" arrives after "${words[at] ?? ''}"`).toBeGreaterThan(at);
      at = next;
    }

    // the README's picture is refreshed on request only, so a test run leaves the work tree clean
    if (process.env.UPDATE_SCREENSHOTS) {
      mkdirSync(join(process.cwd(), 'docs'), { recursive: true });
      copyFileSync(ARTIFACT, DOCS);
    }
  });
});

if (!hasChromium) {
  describe('GraphiQL in headless Chromium', () => {
    it('needs Chromium', (ctx) => ctx.skip(SKIP_NOTE));
  });
}
