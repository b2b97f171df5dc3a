/* The console's prompts page in headless Chromium: an ADMIN creates a prompt and a second version, compares them side
 * by side with the changed lines marked, runs version 1 with its variables and watches the answer stream in (the
 * gateway fills the template: promptStream); prompt text and answers holding HTML are shown as text; an INVOKE key
 * sees only what it may run and may not create. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { ok, usageOf, waitFor } from '../graphql/helpers.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { DESKTOP, expectNoProblems, hasChromium, launchConsoleBrowser, PHONE, type ConsoleBrowser, type ConsolePage } from './console-kit.js';

const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '<script>alert(2)</script>';
const NAME = 'travel/brief';

describe.runIf(hasChromium)('the console prompts page', () => {
  let gw: TestGateway;
  let cb: ConsoleBrowser;

  beforeAll(async () => {
    gw = await startGateway({}, { adapters: { ECHO: createEchoAdapter({ wordDelayMs: 70 }) } });
    ok(await gw.gql('mutation { createModel(input: { name: "other-model", targets: [{ provider: "echo", upstreamModel: "echo" }] }) { id } }'));
    cb = await launchConsoleBrowser();
  }, 90_000);

  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
  });

  async function openPrompts(key: string, viewport = DESKTOP): Promise<ConsolePage> {
    const p = await cb.open(viewport);
    p.page.on('dialog', (d) => {
      p.problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await p.signIn(gw.url, key);
    await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Prompts' }).click();
    await p.page.getByRole('heading', { name: 'Prompts', exact: true }).waitFor();
    return p;
  }

  const column = (p: ConsolePage, side: 'A' | 'B') => p.page.getByRole('article', { name: new RegExp(`^Version ${side}:`) });
  const linesMarked = (p: ConsolePage, side: 'A' | 'B', mark: string) => column(p, side).locator(`.diff-line[data-mark="${mark}"] .diff-text`).allInnerTexts();
  const status = (p: ConsolePage) => p.page.getByTestId('run-status').innerText();
  const output = (p: ConsolePage) => p.page.getByTestId('output').innerText();

  it('an ADMIN creates a prompt and a second version and compares them side by side, the changed lines marked', async () => {
    const p = await openPrompts(gw.adminKey);
    await p.page.getByText('No prompt templates yet').waitFor();

    await p.page.getByRole('button', { name: 'New prompt' }).click();
    const form = p.page.getByRole('form', { name: 'New prompt' });
    await form.getByLabel('Name').fill(NAME);
    await form.getByLabel('Model', { exact: true }).selectOption('echo');
    await form.getByLabel('Message 1', { exact: true }).fill('You plan trips to {{city}}.\nKeep it short.');
    await form.getByLabel('Message 2', { exact: true }).fill(`Plan {{days}} days in {{city}} ${IMG}`);
    await form.getByRole('button', { name: 'Create prompt' }).click();
    await p.page.getByRole('list', { name: 'Prompt templates' }).getByText(NAME).waitFor();

    await p.page.getByRole('button', { name: 'New version' }).click();
    const next = p.page.getByRole('form', { name: 'New version' });
    // the new version starts from the latest one's messages
    expect(await next.getByLabel('Message 2', { exact: true }).inputValue()).toBe(`Plan {{days}} days in {{city}} ${IMG}`);
    await next.getByLabel('Message 2', { exact: true }).fill(`Plan {{days}} slow days in {{city}} on {{budget}} ${SCRIPT}`);
    await next.getByRole('button', { name: 'Save new version' }).click();
    await expect.poll(() => p.page.getByRole('list', { name: 'Prompt templates' }).innerText()).toContain('2 versions');

    // A is v1, B is v2: the system message is the same on both sides, the user message changed
    await expect.poll(() => column(p, 'B').getAttribute('aria-label')).toBe('Version B: v2');
    expect(await column(p, 'A').getAttribute('aria-label')).toBe('Version A: v1');
    expect(await linesMarked(p, 'A', 'same')).toEqual(['You plan trips to {{city}}.', 'Keep it short.']);
    expect(await linesMarked(p, 'B', 'same')).toEqual(['You plan trips to {{city}}.', 'Keep it short.']);
    expect(await linesMarked(p, 'A', 'removed')).toEqual([`Plan {{days}} days in {{city}} ${IMG}`]);
    expect(await linesMarked(p, 'B', 'added')).toEqual([`Plan {{days}} slow days in {{city}} on {{budget}} ${SCRIPT}`]);
    expect(await column(p, 'B').innerText()).toContain('{{budget}}');
    // picking the same version on both sides leaves nothing marked
    await p.page.getByLabel('Version A', { exact: true }).selectOption('2');
    expect(await linesMarked(p, 'A', 'removed')).toEqual([]);
    expect(await linesMarked(p, 'B', 'added')).toEqual([]);
    await p.page.getByLabel('Version A', { exact: true }).selectOption('1');
    await p.screenshot('prompts-side-by-side');
    expectNoProblems(p);
    await p.close();
  });

  it('an ADMIN runs version 1 with its variables and watches the answer stream in; HTML in it stays text', async () => {
    const p = await openPrompts(gw.adminKey);
    await p.page.getByRole('list', { name: 'Prompt templates' }).getByText(NAME).waitFor();
    // run version 1: a field per variable of that version
    await p.page.getByLabel('Version to run').selectOption('1');
    const run = p.page.getByRole('region', { name: 'Run a version' });
    expect(await run.getByRole('group', { name: 'Variables' }).getByRole('textbox').count()).toBe(2);
    await run.getByLabel('city', { exact: true }).fill('Lisbon');
    await run.getByLabel('days', { exact: true }).fill('three');
    await p.page.evaluate(() => {
      const w = window as unknown as { __seen: string[] };
      w.__seen = [];
      const out = document.querySelector('[data-testid="output"]') as HTMLElement;
      new MutationObserver(() => {
        if (w.__seen.at(-1) !== out.innerText) w.__seen.push(out.innerText);
      }).observe(out, { subtree: true, childList: true, characterData: true });
    });
    await run.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => status(p), { timeout: 10_000 }).toBe('Finished');
    // echo answers the last user message, filled by the gateway
    const answer = `echo: Plan three days in Lisbon ${IMG}`;
    expect(await output(p)).toBe(answer);
    await run.scrollIntoViewIfNeeded();
    await p.screenshot('prompts-run-finished');
    const seen = await p.page.evaluate(() => (window as unknown as { __seen: string[] }).__seen);
    expect(seen.length).toBeGreaterThan(4);
    for (const text of seen.slice(1)) expect(answer.startsWith(text)).toBe(true);
    expect(Number(await run.locator('.run-figure', { hasText: 'Completion tokens' }).locator('dd').innerText())).toBeGreaterThan(0);

    // nothing from the prompts or the answer became markup, and no script ran
    expect(await p.page.locator('main img, main script, main b').count()).toBe(0);
    const admin = await gw.gql<{ viewer: { id: string } }>('{ viewer { id } }');
    const records = await waitFor(async () => {
      const r = await usageOf(gw, admin.data!.viewer.id, { model: 'echo' });
      return r.length ? r : null;
    }, 'the usage record of the run');
    expect(records[0]).toMatchObject({ status: 'OK', streamed: true, metadata: { prompt: NAME, promptVersion: 1 } });
    expectNoProblems(p);
    await p.close();
  });

  it('an INVOKE key sees the prompts it may run, cannot create, and can stop a run', async () => {
    const runner = await gw.createKey({ name: 'runner', scopes: ['INVOKE'], allowedModels: ['echo'] });
    const p = await openPrompts(runner.secret);
    await p.page.getByRole('list', { name: 'Prompt templates' }).getByText(NAME).waitFor();
    expect(await p.page.getByRole('button', { name: 'New prompt' }).count()).toBe(0);
    const run = p.page.getByRole('region', { name: 'Run a version' });
    // the latest version by default, with its three variables
    expect(await run.getByRole('group', { name: 'Variables' }).getByRole('textbox').count()).toBe(3);
    await run.getByLabel('days', { exact: true }).fill('many');
    await run.getByLabel('city', { exact: true }).fill(Array.from({ length: 40 }, (_, i) => `stop${i}`).join(' '));
    await run.getByLabel('budget', { exact: true }).fill('little');
    await run.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => output(p), { timeout: 10_000, interval: 20 }).toContain('stop2');
    await run.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => status(p)).toBe('Stopped');
    const records = await waitFor(async () => {
      const r = await usageOf(gw, runner.id);
      return r.length ? r : null;
    }, 'the usage record of the stopped run');
    expect(records[0]).toMatchObject({ status: 'CANCELLED', metadata: { prompt: NAME, promptVersion: 2 } });
    expectNoProblems(p);
    await p.close();

    // a key whose models leave the prompt out is told there is nothing it may run
    const outsider = await gw.createKey({ name: 'outsider', scopes: ['INVOKE'], allowedModels: ['other-model'] });
    const q = await openPrompts(outsider.secret);
    await q.page.getByText('No prompt templates this key may run').waitFor();
    expectNoProblems(q);
    await q.close();
  });

  it('fits a phone: versions side by side stack', async () => {
    const p = await openPrompts(gw.adminKey, PHONE);
    await p.page.getByRole('region', { name: 'Compare versions' }).scrollIntoViewIfNeeded();
    await column(p, 'A').waitFor();
    await p.screenshot('prompts-phone');
    expect(await p.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    expectNoProblems(p);
    await p.close();
  });
});
