/*
 * The console's Calls page and a call's details in headless Chromium, over calls made through the gateway: a FULL
 * key, a METADATA key and a key with no level; a model whose first target answers 500 and second answers, so one
 * call has two attempts. The list matches the API, the text search finds only FULL calls with the word, the
 * details show the ids, the attempts timeline in order with its labels, and message text (HTML included) as the
 * characters it is. The key form's call log select is checked over GraphQL.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { chat, chatOk, closedPort, createModel, createProvider, ok, scriptByModel, userSays } from '../gateway/helpers.js';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectNoProblems, hasChromium, launchConsoleBrowser, type ConsoleBrowser, type ConsolePage } from './console-kit.js';

const XSS_IMG = '<img src=x onerror=alert(1)>';
const XSS_SCRIPT = '<script>alert(2)</script>';
/** The word the search looks for: in two FULL calls and in a METADATA one (which keeps no text to search) */
const WORD = 'zanzibar';

const table = (page: Page) => page.getByRole('table', { name: 'Calls' });
const shownIds = (page: Page) => table(page).locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-invocation')));

interface Seed {
  full: { id: string; secret: string };
  /** The call with two attempts (first target 500, second answers), FULL, with the word and HTML in a message */
  retried: string;
  /** The other FULL call with the word */
  plain: string;
  /** A METADATA call with the word in its message */
  metadata: string;
  /** A call by a key with no level set: not logged */
  unlogged: string;
  /** A FULL call whose only target refuses connections: retried with waits, then ERROR */
  failed: string;
  /** The last call made (FULL): first in the usage explorer too */
  newest: string;
}

/** The invocation ids the API lists for a filter, newest first */
async function logIds(gw: TestGateway, filter: Record<string, unknown> = {}): Promise<string[]> {
  await gw.flushUsage();
  const data = ok(await gw.gql<AnyJson>('query($f: InvocationFilter) { invocations(filter: $f, first: 200) { edges { node { id } } } }', { f: filter }));
  return data.invocations.edges.map((e: AnyJson) => e.node.id);
}

async function seedCalls(gw: TestGateway, mock: OpenAIMock): Promise<Seed> {
  const up = scriptByModel(mock);
  // the failing target answers a little late and the second one streams slowly, so the bars have lengths to show
  up.set('flaky-1', { ...mockError(500), delayMs: 120 });
  up.set('steady-2', { text: `Zanzibar in June: dry, warm. ${XSS_IMG}`, delayMs: 80 });
  await createProvider(gw, { name: 'flaky', kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl, apiKey: 'sk-flaky' });
  await createProvider(gw, { name: 'steady', kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl, apiKey: 'sk-steady' });
  await createModel(gw, {
    name: 'travel-gpt',
    strategy: 'PRIORITY',
    targets: [
      { provider: 'flaky', upstreamModel: 'flaky-1', priority: 0 },
      { provider: 'steady', upstreamModel: 'steady-2', priority: 1 },
    ],
    timeoutMs: 5000,
  });
  await createModel(gw, { name: 'echo-chat', targets: [{ provider: 'echo', upstreamModel: 'echo-1' }] });
  const full = await gw.createKey({ name: 'full-logger', scopes: ['INVOKE'], logBodies: 'FULL' });
  const meta = await gw.createKey({ name: 'metadata-logger', scopes: ['INVOKE'], logBodies: 'METADATA' });
  const quiet = await gw.createKey({ name: 'not-logged', scopes: ['INVOKE'] });

  const say = (model: string, text: string, key: string, extra: Record<string, unknown> = {}) =>
    chatOk(gw, { model, messages: userSays(text), ...extra }, key).then((r) => r.id);
  // more than one page of the list (50), for "Load more"; the older ones, so the newest page shows the calls below
  for (let i = 0; i < 48; i += 16)
    await Promise.all(Array.from({ length: 16 }, (_, j) => say('echo-chat', `Ticket ${i + j}: reset my password`, (i + j) % 3 ? full.secret : meta.secret)));
  await say('echo-chat', 'What is the capital of France?', full.secret);
  const plain = await say('echo-chat', `Tell me about the spice history of ${WORD}`, full.secret, { temperature: 0.3, maxTokens: 64 });
  const metadata = await say('echo-chat', `A METADATA call about ${WORD}: its text is not kept`, meta.secret);
  const unlogged = await say('echo-chat', `Nobody logs this ${WORD}`, quiet.secret);
  const retried = (
    await chatOk(
      gw,
      {
        model: 'travel-gpt',
        temperature: 0.7,
        messages: [
          { role: 'SYSTEM', content: 'You are a terse travel agent.' },
          { role: 'USER', content: `Plan a week in ${WORD}. ${XSS_IMG} ${XSS_SCRIPT}` },
        ],
      },
      full.secret,
    )
  ).id;
  await createProvider(gw, { name: 'offline', kind: 'OPENAI_COMPATIBLE', baseUrl: `http://127.0.0.1:${await closedPort()}/v1`, apiKey: 'sk-offline' });
  await createModel(gw, { name: 'offline-model', targets: [{ provider: 'offline', upstreamModel: 'nothing' }], timeoutMs: 2000 });
  const refused = await chat(gw, { model: 'offline-model', messages: userSays('Is anyone there?') }, full.secret);
  if (!refused.errors?.length) throw new Error('the offline model answered');
  const [failed] = await logIds(gw, { model: 'offline-model' });
  // a few more, so the list looks like a day's traffic
  for (const [text, key] of [
    ['Summarise this ticket: printer on floor 3 jams', full.secret],
    ['Translate "good morning" to Swahili', meta.secret],
    ['Write a haiku about gateways', full.secret],
  ] as const)
    await say('echo-chat', text, key);
  const newest = await say('echo-chat', 'One more, newest of all', full.secret);
  await gw.flushUsage();
  return { full, retried, plain, metadata, unlogged, failed, newest };
}

describe.runIf(hasChromium)('the Calls page', () => {
  let gw: TestGateway;
  let mock: OpenAIMock;
  let cb: ConsoleBrowser;
  let seed: Seed;
  beforeAll(async () => {
    mock = await startOpenAIMock();
    gw = await startGateway({}, { policy: { backoffBaseMs: 40, backoffMaxMs: 80, maxAttemptsPerModel: 3, maxAttempts: 4 } });
    [cb, seed] = await Promise.all([launchConsoleBrowser(), seedCalls(gw, mock)]);
  }, 90_000);
  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
    await mock?.close();
  });

  async function open(): Promise<ConsolePage> {
    const p = await cb.open();
    // an alert from injected HTML fails the test through the problems list
    p.page.on('dialog', (d) => {
      p.problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await p.signIn(gw.url, gw.adminKey);
    return p;
  }

  const apiIds = (filter: Record<string, unknown> = {}) => logIds(gw, filter);

  it('lists the logged calls newest first, searches FULL calls, and opens a call with its attempts timeline', async () => {
    const all = await apiIds();
    expect(all).toContain(seed.retried);
    expect(all).not.toContain(seed.unlogged);
    const p = await open();
    await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Calls', exact: true }).click();
    await table(p.page).waitFor();
    // the first page, then the rest after "Load more"
    expect(all.length).toBeGreaterThan(50);
    await expect.poll(() => shownIds(p.page)).toEqual(all.slice(0, 50));
    await p.page.getByText('50 calls shown').waitFor();
    await p.screenshot('calls');
    await p.page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => shownIds(p.page)).toEqual(all);
    await p.page.getByText(`${all.length} calls shown, the oldest reached`).waitFor();
    expect(await p.page.getByRole('button', { name: 'Load more' }).isDisabled()).toBe(true);
    const retriedRow = table(p.page).locator(`tr[data-invocation="${seed.retried}"]`);
    expect(await retriedRow.locator('td').nth(5).innerText()).toBe('2');

    // the search: the FULL calls holding the word, not the METADATA one (its text is not kept)
    const found = await apiIds({ search: WORD });
    expect([...found].sort()).toEqual([seed.retried, seed.plain].sort());
    await p.page.getByRole('searchbox', { name: 'Search messages and answers' }).fill(WORD);
    await p.page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => shownIds(p.page)).toEqual(found);
    expect(new URL(p.page.url()).searchParams.get('search')).toBe(WORD);
    await p.page.getByRole('searchbox', { name: 'Search messages and answers' }).fill('nosuchwordanywhere');
    await p.page.getByRole('searchbox', { name: 'Search messages and answers' }).press('Enter');
    await p.page.getByText('No logged call matches').waitFor();
    await p.page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => shownIds(p.page)).toEqual(all.slice(0, 50));
    // the status filter, in the address too: a reload reads it back
    const errors = await apiIds({ status: 'ERROR' });
    expect(errors).toContain(seed.failed);
    await p.page.getByLabel('Status').selectOption('ERROR');
    await expect.poll(() => shownIds(p.page)).toEqual(errors);
    expect(new URL(p.page.url()).searchParams.get('status')).toBe('ERROR');
    await p.page.reload();
    await expect.poll(() => shownIds(p.page)).toEqual(errors);
    expect(await p.page.getByLabel('Status').inputValue()).toBe('ERROR');
    await p.page.getByLabel('Status').selectOption('');
    await expect.poll(() => shownIds(p.page)).toEqual(all.slice(0, 50));
    await p.page.getByLabel('Model').selectOption('travel-gpt');
    await expect.poll(() => shownIds(p.page)).toEqual([seed.retried]);

    // the details
    await retriedRow.click();
    await p.page.getByRole('heading', { name: 'Call', exact: true }).waitFor();
    expect(new URL(p.page.url()).pathname).toBe(`/console/calls/${seed.retried}`);
    const ids = p.page.getByRole('definition');
    const api = ok(await gw.gql<AnyJson>('query($id: ID!) { invocation(id: $id) { requestId traceId level } }', { id: seed.retried })).invocation;
    expect(api.level).toBe('FULL');
    await expect.poll(() => ids.allInnerTexts()).toEqual(expect.arrayContaining([seed.retried, api.requestId]));

    const bars = p.page.getByTestId('attempt-bar');
    await expect.poll(() => bars.count()).toBe(2);
    const [first, second] = [await bars.nth(0).getAttribute('aria-label'), await bars.nth(1).getAttribute('aria-label')];
    expect(first).toMatch(/^Attempt 1, flaky flaky-1, HTTP 500 ERROR, starts at \d+ ms/);
    expect(second).toMatch(/^Attempt 2, steady steady-2, HTTP 200 OK, starts at \d+ ms/);
    expect(second).toMatch(/TTFB \d+ ms/);
    const results = await p.page.getByTestId('attempt-result').allInnerTexts();
    expect(results).toEqual(['HTTP 500 ERROR', 'HTTP 200 OK']);
    // on one axis: the second bar begins where (or after) the first one ends
    const [a, b] = [await bars.nth(0).boundingBox(), await bars.nth(1).boundingBox()];
    expect(a!.width).toBeGreaterThan(5);
    expect(b!.x).toBeGreaterThanOrEqual(a!.x + a!.width - 1);
    // the gateway's error message for the failed attempt, labelled on its lane
    expect(await p.page.getByTestId('attempt-error').count()).toBe(1);

    // messages and the answer as text: the HTML shows as its characters, no element is made of it
    const messages = p.page.getByTestId('call-message');
    await expect.poll(() => messages.count()).toBe(2);
    expect(await messages.nth(1).locator('pre').innerText()).toBe(`Plan a week in ${WORD}. ${XSS_IMG} ${XSS_SCRIPT}`);
    expect(await p.page.getByTestId('call-answer').innerText()).toBe(`Zanzibar in June: dry, warm. ${XSS_IMG}`);
    expect(await p.page.locator('main img, main script').count()).toBe(0);
    await p.screenshot('call-details');
    expectNoProblems(p);
    await p.close();
  });

  it('shows a METADATA call without its bodies, and opens a call from a usage record', async () => {
    const p = await open();
    await p.page.goto(`${gw.url}/console/calls/${seed.metadata}`);
    // the note names the rule as it is: the lowest level that is set caps the call, an unset one does not
    const note = p.page.getByText('Logged at METADATA');
    await note.waitFor();
    expect((await note.innerText()).replace(/\s+/g, ' ')).toBe(
      'Logged at METADATA: the messages and the answer were not kept. METADATA is the lowest level set on the key, its team or the model; ' +
        'to keep them in later calls, raise it to FULL where it is set (or clear it there, when another of them is FULL).',
    );
    expect(await p.page.getByTestId('call-message').count()).toBe(0);
    await expect.poll(() => p.page.getByTestId('attempt-bar').count()).toBe(1);
    // a failed call: every try on its lane, each retry after its wait, all errors
    await p.page.goto(`${gw.url}/console/calls/${seed.failed}`);
    const bars = p.page.getByTestId('attempt-bar');
    await expect.poll(() => bars.count()).toBe(3);
    const labels = await bars.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
    labels.forEach((label, i) => expect(label).toMatch(new RegExp(`^Attempt ${i + 1}, offline nothing, ERROR,`)));
    expect(labels[1]).toMatch(/after a retry wait of \d+ ms/);
    await p.screenshot('call-details-retries');
    // a call that was not logged: said so, not an error
    await p.page.goto(`${gw.url}/console/calls/${seed.unlogged}`);
    await p.page.getByText('No logged call with this id').waitFor();

    await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Usage', exact: true }).click();
    await p.page.locator(`tr[data-invocation="${seed.newest}"]`).click();
    await p.page.getByRole('dialog', { name: 'Usage record' }).getByRole('link', { name: /Call details/ }).click();
    await p.page.getByRole('heading', { name: 'Call', exact: true }).waitFor();
    expect(new URL(p.page.url()).pathname).toBe(`/console/calls/${seed.newest}`);
    await expect.poll(() => p.page.getByTestId('call-message').count()).toBe(1);
    expectNoProblems(p);
    await p.close();
  });

  it('shows an INVOKE key its own calls only', async () => {
    const own = await logIds(gw);
    const p = await cb.open();
    await p.signIn(gw.url, seed.full.secret);
    await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Calls', exact: true }).click();
    await table(p.page).waitFor();
    const mine = ok(await gw.gql<AnyJson>('{ invocations(first: 200) { edges { node { id } } } }', {}, seed.full.secret)).invocations.edges.map((e: AnyJson) => e.node.id);
    expect(mine).not.toContain(seed.metadata);
    expect(mine.length).toBeLessThan(own.length);
    await expect.poll(() => shownIds(p.page)).toEqual(mine.slice(0, 50));
    // the model filter is typed (the key may not read usage summaries, where the choices come from)
    await p.page.getByLabel('Model').fill('travel-gpt');
    await p.page.getByLabel('Model').press('Enter');
    await expect.poll(() => shownIds(p.page)).toEqual([seed.retried]);
    expect(await p.page.getByRole('alert').count()).toBe(0);
    expectNoProblems(p);
    await p.close();
  });

  it("sets a key's call log level in its form", async () => {
    const key = await gw.createKey({ name: 'to-be-logged', scopes: ['INVOKE'] });
    const level = async () => ok(await gw.gql<AnyJson>('query($id: ID!) { node(id: $id) { ... on ApiKey { logBodies } } }', { id: key.id })).node.logBodies;
    expect(await level()).toBeNull();
    const p = await open();
    await p.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Keys', exact: true }).click();
    const row = p.page.locator('tr', { has: p.page.getByText('to-be-logged', { exact: true }) });
    await row.getByRole('button', { name: 'Edit to-be-logged' }).click();
    const dialog = p.page.getByRole('dialog', { name: 'Edit key “to-be-logged”' });
    expect(await dialog.getByLabel('Call log').inputValue()).toBe('');
    await dialog.getByLabel('Call log').selectOption('METADATA');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(level).toBe('METADATA');
    // and back to "not set": null clears it (after a reload, so the form starts from the key as stored)
    await p.page.reload();
    await row.getByRole('button', { name: 'Edit to-be-logged' }).click();
    expect(await dialog.getByLabel('Call log').inputValue()).toBe('METADATA');
    await dialog.getByLabel('Call log').selectOption('');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(level).toBeNull();
    expectNoProblems(p);
    await p.close();
  });

  it("sets a model's and a team's call log level in their forms; the lowest level set applies to a call", async () => {
    const team = ok(await gw.gql<AnyJson>('mutation { createTeam(input: { name: "logged-team" }) { id } }')).createTeam.id;
    const p = await open();
    const nav = p.page.getByRole('navigation', { name: 'Console' });

    await nav.getByRole('link', { name: 'Teams', exact: true }).click();
    await p.page.getByRole('button', { name: 'Edit team logged-team' }).click();
    const teamForm = p.page.getByRole('dialog', { name: 'Edit team “logged-team”' });
    await teamForm.getByLabel('Call log').selectOption('FULL');
    await teamForm.getByRole('button', { name: 'Save changes' }).click();
    await teamForm.waitFor({ state: 'hidden' });
    const teamLevel = async () => ok(await gw.gql<AnyJson>('query($id: ID!) { node(id: $id) { ... on Team { logBodies } } }', { id: team })).node.logBodies;
    await expect.poll(teamLevel).toBe('FULL');

    await nav.getByRole('link', { name: 'Models', exact: true }).click();
    await p.page.getByRole('button', { name: 'Edit model echo-chat' }).click();
    const modelForm = p.page.getByRole('dialog', { name: 'Edit model echo-chat' });
    expect(await modelForm.getByLabel('Call log').inputValue()).toBe('');
    await modelForm.getByLabel('Call log').selectOption('METADATA');
    await modelForm.getByRole('button', { name: 'Save model' }).click();
    await modelForm.waitFor({ state: 'hidden' });
    const modelLevel = async () => ok(await gw.gql<AnyJson>('{ model(name: "echo-chat") { logBodies } }')).model.logBodies;
    await expect.poll(modelLevel).toBe('METADATA');
    expectNoProblems(p);
    await p.close();

    // the FULL key on the METADATA model: logged at METADATA, the lower of the two
    const id = (await chatOk(gw, { model: 'echo-chat', messages: userSays('after the model was capped') }, seed.full.secret)).id;
    await gw.flushUsage();
    const logged = ok(await gw.gql<AnyJson>('query($id: ID!) { invocation(id: $id) { level request } }', { id })).invocation;
    expect(logged).toEqual({ level: 'METADATA', request: null });
  });
});
