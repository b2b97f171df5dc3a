/*
 * The console's Teams and Access pages in headless Chromium: ADMIN creates a team with the form, creates a key in it
 * on the Keys page and finds the key in the team's detail, edits the team and is refused deleting it while it has
 * keys; a TEAM_ADMIN key sees its own team only, read-only. On the Access page a TEAM_ADMIN requests a model and an
 * ADMIN in another tab sees the request arrive live and approves it, which the TEAM_ADMIN's tab shows without a
 * reload; budget alerts arrive live too. Names, descriptions and reasons holding HTML are shown as text.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectNoProblems, hasChromium, launchConsoleBrowser, SKIP_NOTE, type ConsoleBrowser, type ConsolePage } from './console-kit.js';

const XSS_TEAM = 'research <img src=x onerror=alert(1)>';
const XSS_DESCRIPTION = 'the lab <img src=x onerror=alert(2)><script>window.__xss=1</script>';
const XSS_ACCESS_TEAM = 'labs <img src=x onerror=alert(3)>';
const XSS_REASON = 'evals <img src=x onerror=alert(4)><script>window.__xss=1</script>';
const CHAT_GATED = 'mutation { chat(input: { model: "echo-gated", messages: [{ role: USER, content: "hi" }] }) { message { content } } }';
const TEAMS = 'query { teams { name description allowedModels limits { requestsPerMinute tokensPerDay monthlyBudgetUsd } apiKeys { name } } }';

async function open(cb: ConsoleBrowser, gw: TestGateway, key: string): Promise<ConsolePage> {
  const p = await cb.open();
  // a dialog (alert from injected HTML) fails the test through the problems list
  p.page.on('dialog', (d) => {
    p.problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await p.signIn(gw.url, key);
  return p;
}

async function goTo(page: Page, link: string, heading: string) {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: link, exact: true }).click();
  await page.getByRole('heading', { name: heading, exact: true }).waitFor();
}

const teamRow = (page: Page, name: string) => page.locator('tr', { has: page.getByText(name, { exact: true }) });

describe.runIf(hasChromium)('the Teams and Access pages', () => {
  let gw: TestGateway;
  let cb: ConsoleBrowser;
  beforeAll(async () => {
    gw = await startGateway();
    const made = await gw.gql('mutation { createModel(input: { name: "echo-team", targets: [{ provider: "echo", upstreamModel: "echo" }] }) { name } }');
    expect(made.errors).toBeUndefined();
    cb = await launchConsoleBrowser();
  }, 90_000);
  afterAll(async () => {
    await cb?.close();
    await gw?.stop();
  });

  it('ADMIN creates a team with the form, creates a key in it, and sees the key in the team’s detail', async () => {
    const p = await open(cb, gw, gw.adminKey);
    await goTo(p.page, 'Teams', 'Teams');
    await p.page.getByText('No teams yet').waitFor();

    await p.page.getByRole('button', { name: 'New team' }).click();
    const form = p.page.getByRole('dialog', { name: 'New team' });
    await form.getByLabel('Name').fill(XSS_TEAM);
    await form.getByLabel('Description (optional)').fill(XSS_DESCRIPTION);
    await form.getByLabel('Requests a minute').fill('120');
    await form.getByLabel('Tokens a day').fill('500000');
    await form.getByLabel('Monthly budget (USD)').fill('25');
    await form.getByRole('checkbox', { name: /All models/ }).uncheck();
    await form.getByRole('checkbox', { name: 'echo-team', exact: true }).check();
    await form.getByRole('button', { name: 'Create team' }).click();
    await form.waitFor({ state: 'hidden' });

    const stored = await gw.gql<{ teams: unknown[] }>(TEAMS);
    expect(stored.data?.teams).toEqual([
      { name: XSS_TEAM, description: XSS_DESCRIPTION, allowedModels: ['echo-team'], limits: { requestsPerMinute: 120, tokensPerDay: 500000, monthlyBudgetUsd: 25 }, apiKeys: [] },
    ]);
    const r = teamRow(p.page, XSS_TEAM);
    await r.waitFor();
    await r.getByText(XSS_DESCRIPTION, { exact: true }).waitFor();
    expect(await r.getByRole('meter', { name: `Budget of ${XSS_TEAM} used` }).getAttribute('aria-valuemax')).toBe('25');
    expect(await r.getByRole('meter').getAttribute('aria-valuenow')).toBe('0');

    // a key in the team, from the Keys page's form
    await goTo(p.page, 'Keys', 'Keys');
    await p.page.getByRole('button', { name: 'New key' }).click();
    const keyForm = p.page.getByRole('region', { name: 'New key' });
    await keyForm.getByLabel('Name').fill('research app');
    await keyForm.getByRole('combobox', { name: 'Team', exact: true }).selectOption({ label: XSS_TEAM });
    await keyForm.getByRole('button', { name: 'Create key' }).click();
    await p.page.getByRole('region', { name: 'New secret' }).waitFor();
    await p.page.getByRole('button', { name: 'Done, hide it' }).click();
    await p.page.locator('tr', { has: p.page.getByText('research app', { exact: true }) }).getByText(`team ${XSS_TEAM}`, { exact: true }).waitFor();

    await goTo(p.page, 'Teams', 'Teams');
    await teamRow(p.page, XSS_TEAM).getByRole('button', { name: `Show team ${XSS_TEAM}` }).click();
    const detail = p.page.getByRole('region', { name: `Team ${XSS_TEAM}` });
    const keyRow = detail.locator('tr', { has: p.page.getByText('research app', { exact: true }) });
    await keyRow.waitFor();
    await keyRow.getByText('INVOKE', { exact: true }).waitFor();
    await keyRow.getByText('Active', { exact: true }).waitFor();
    await detail.getByText('echo-team', { exact: true }).waitFor();
    expect(await teamRow(p.page, XSS_TEAM).first().locator('td').nth(3).innerText()).toBe('1');

    // HTML in the name and description is text, not markup
    expect(await p.page.locator('main img').count()).toBe(0);
    expect(await p.page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await p.screenshot('teams');
    expectNoProblems(p);
    await p.close();
  }, 60_000);

  it('ADMIN edits a team; deleting one that still has keys shows the gateway’s refusal, an empty one is deleted', async () => {
    const p = await open(cb, gw, gw.adminKey);
    const made = await gw.gql<{ createTeam: { id: string } }>('mutation { createTeam(input: { name: "short-lived" }) { id } }');
    expect(made.errors).toBeUndefined();
    await goTo(p.page, 'Teams', 'Teams');

    await teamRow(p.page, XSS_TEAM).getByRole('button', { name: `Edit team ${XSS_TEAM}` }).click();
    const edit = p.page.getByRole('dialog', { name: `Edit team “${XSS_TEAM}”` });
    await expect.poll(() => edit.getByLabel('Monthly budget (USD)').inputValue()).toBe('25');
    await edit.getByLabel('Monthly budget (USD)').fill('40');
    await edit.getByLabel('Requests a minute').fill('');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await edit.waitFor({ state: 'hidden' });
    const stored = await gw.gql<{ teams: Array<{ name: string; limits: unknown }> }>(TEAMS);
    expect(stored.data?.teams.find((t) => t.name === XSS_TEAM)?.limits).toEqual({ requestsPerMinute: null, tokensPerDay: 500000, monthlyBudgetUsd: 40 });
    await expect.poll(() => teamRow(p.page, XSS_TEAM).getByRole('meter').getAttribute('aria-valuemax')).toBe('40');

    await teamRow(p.page, XSS_TEAM).getByRole('button', { name: `Delete team ${XSS_TEAM}` }).click();
    const confirm = p.page.getByRole('dialog', { name: `Delete team “${XSS_TEAM}”?` });
    await confirm.getByRole('button', { name: 'Delete team' }).click();
    await expect.poll(() => confirm.getByRole('alert').innerText()).toMatch(/\(BAD_USER_INPUT\)/);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await teamRow(p.page, XSS_TEAM).waitFor();

    await teamRow(p.page, 'short-lived').getByRole('button', { name: 'Delete team short-lived' }).click();
    await p.page.getByRole('dialog', { name: 'Delete team “short-lived”?' }).getByRole('button', { name: 'Delete team' }).click();
    await teamRow(p.page, 'short-lived').waitFor({ state: 'detached' });
    const after = await gw.gql<{ teams: Array<{ name: string }> }>(TEAMS);
    expect(after.data?.teams.map((t) => t.name)).toEqual([XSS_TEAM]);
    expectNoProblems(p);
    await p.close();
  }, 60_000);

  it('a TEAM_ADMIN key sees its own team only, with its keys, and cannot change teams', async () => {
    const other = await gw.gql<{ createTeam: { id: string } }>('mutation { createTeam(input: { name: "other team", description: "not yours" }) { id } }');
    expect(other.errors).toBeUndefined();
    await gw.createKey({ name: 'other team app', team: other.data?.createTeam.id });
    const mine = await gw.gql<{ createTeam: { id: string } }>('mutation { createTeam(input: { name: "platform", limits: { monthlyBudgetUsd: 10 } }) { id } }');
    expect(mine.errors).toBeUndefined();
    const teamAdmin = await gw.createKey({ name: 'platform lead', team: mine.data?.createTeam.id, scopes: ['TEAM_ADMIN', 'READ_USAGE'] });
    await gw.createKey({ name: 'platform app', team: mine.data?.createTeam.id });

    const p = await open(cb, gw, teamAdmin.secret);
    const nav = p.page.getByRole('navigation', { name: 'Console' });
    expect(await nav.getByRole('link', { name: 'Keys', exact: true }).count()).toBe(0);
    await goTo(p.page, 'Teams', 'Teams');
    const detail = p.page.getByRole('region', { name: 'Team platform' });
    await detail.locator('tr', { has: p.page.getByText('platform app', { exact: true }) }).waitFor();
    await detail.locator('tr', { has: p.page.getByText('platform lead', { exact: true }) }).getByText('TEAM_ADMIN', { exact: true }).waitFor();
    expect(await p.page.locator('tbody tr[data-team]').count()).toBe(1);
    expect(await p.page.getByText('other team').count()).toBe(0);
    expect(await p.page.getByText('other team app').count()).toBe(0);
    expect(await p.page.getByText(XSS_TEAM).count()).toBe(0);
    expect(await p.page.getByRole('button', { name: 'New team' }).count()).toBe(0);
    expect(await p.page.getByRole('button', { name: /^(Edit|Delete) team/ }).count()).toBe(0);
    expectNoProblems(p);
    await p.close();
  }, 60_000);

  it('a TEAM_ADMIN asks for a model; in a second page ADMIN sees the request arrive live and approves it; the TEAM_ADMIN’s page shows APPROVED without reload', async () => {
    const model = await gw.gql('mutation { createModel(input: { name: "echo-gated", requiresApproval: true, targets: [{ provider: "echo", upstreamModel: "echo" }] }) { name } }');
    expect(model.errors).toBeUndefined();
    const team = await gw.gql<{ createTeam: { id: string } }>(`mutation($n: String!) { createTeam(input: { name: $n }) { id } }`, { n: XSS_ACCESS_TEAM });
    expect(team.errors).toBeUndefined();
    const lead = await gw.createKey({ name: 'gated lead', team: team.data?.createTeam.id, scopes: ['TEAM_ADMIN', 'INVOKE'] });
    const chat = () => gw.gql(CHAT_GATED, {}, lead.secret);
    expect((await chat()).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const teamPage = await open(cb, gw, lead.secret);
    await goTo(teamPage.page, 'Access', 'Model access');
    const adminPage = await open(cb, gw, gw.adminKey);
    await goTo(adminPage.page, 'Access', 'Model access');
    await adminPage.page.getByRole('region', { name: 'Access requests' }).getByText('No requests yet.').waitFor();

    const form = teamPage.page.getByRole('form', { name: 'Request access' });
    await form.getByRole('combobox', { name: 'Model' }).selectOption('echo-gated');
    await form.getByLabel('Reason').fill(XSS_REASON);
    await form.getByRole('button', { name: 'Request access' }).click();
    const mine = teamPage.page.locator('tr[data-request]', { has: teamPage.page.getByText('echo-gated', { exact: true }) });
    await expect.poll(() => mine.getByTestId('access-status').innerText()).toBe('PENDING');

    // the ADMIN page was opened before the request: it arrives through the subscription
    const theirs = adminPage.page.locator('tr[data-request]', { has: adminPage.page.getByText('echo-gated', { exact: true }) });
    await expect.poll(() => theirs.getByTestId('access-status').innerText(), { timeout: 15_000 }).toBe('PENDING');
    await theirs.getByText(XSS_REASON, { exact: true }).waitFor();
    await theirs.getByText(XSS_ACCESS_TEAM, { exact: true }).waitFor();
    await theirs.getByRole('button', { name: `Approve echo-gated for ${XSS_ACCESS_TEAM}` }).click();
    const dialog = adminPage.page.getByRole('dialog', { name: `Approve echo-gated for ${XSS_ACCESS_TEAM}?` });
    await dialog.getByLabel('Note for the team (optional)').fill('ok for the pilot');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => theirs.getByTestId('access-status').innerText()).toBe('APPROVED');

    // the team admin's page follows without a reload
    await expect.poll(() => mine.getByTestId('access-status').innerText(), { timeout: 15_000 }).toBe('APPROVED');
    await mine.getByText('ok for the pilot', { exact: true }).waitFor();
    await expect.poll(async () => (await chat()).errors, { timeout: 15_000 }).toBeUndefined();
    for (const p of [teamPage, adminPage]) {
      expect(await p.page.locator('main img').count()).toBe(0);
      expect(await p.page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    }
    expectNoProblems(teamPage);
    expectNoProblems(adminPage);
    await teamPage.close();
    await adminPage.close();
  }, 90_000);

  it('ADMIN marks a model as requiring approval on the Models page, then rejects a request for it with a note; the team sees REJECTED and the note, and the model stays refused', async () => {
    const model = await gw.gql('mutation { createModel(input: { name: "echo-vault", targets: [{ provider: "echo", upstreamModel: "echo" }] }) { name } }');
    expect(model.errors).toBeUndefined();
    const p = await open(cb, gw, gw.adminKey);
    await goTo(p.page, 'Models', 'Providers and models');
    await p.page.locator('tr[data-model="echo-vault"]').getByRole('button', { name: 'Edit model echo-vault' }).click();
    const md = p.page.getByRole('dialog', { name: 'Edit model echo-vault' });
    await md.getByRole('checkbox', { name: /Requires approval/ }).check();
    await md.getByRole('button', { name: 'Save model' }).click();
    await md.waitFor({ state: 'hidden' });
    await p.page.locator('tr[data-model="echo-vault"]').getByText('requires approval', { exact: true }).waitFor();
    expect((await gw.gql('query { model(name: "echo-vault") { requiresApproval } }')).data).toEqual({ model: { requiresApproval: true } });
    const team = await gw.gql<{ createTeam: { id: string } }>('mutation { createTeam(input: { name: "vault team" }) { id } }');
    const lead = await gw.createKey({ name: 'vault lead', team: team.data?.createTeam.id, scopes: ['TEAM_ADMIN', 'INVOKE'] });
    const asked = await gw.gql('mutation { requestModelAccess(input: { model: "echo-vault", reason: "archive search" }) { status } }', {}, lead.secret);
    expect(asked.data).toEqual({ requestModelAccess: { status: 'PENDING' } });

    await goTo(p.page, 'Access', 'Model access');
    const r = p.page.locator('tr[data-request]', { has: p.page.getByText('echo-vault', { exact: true }) });
    await r.getByRole('button', { name: 'Reject echo-vault for vault team' }).click();
    const dialog = p.page.getByRole('dialog', { name: 'Reject echo-vault for vault team?' });
    await dialog.getByText('“archive search”').waitFor();
    await dialog.getByLabel('Note for the team (optional)').fill('not this quarter');
    await dialog.getByRole('button', { name: 'Reject' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => r.getByTestId('access-status').innerText()).toBe('REJECTED');
    expect(await r.getByRole('button', { name: 'Reject echo-vault for vault team' }).count()).toBe(0);

    const seen = await gw.gql('query { modelAccessRequests { model status decisionNote } }', {}, lead.secret);
    expect(seen.data).toEqual({ modelAccessRequests: [{ model: 'echo-vault', status: 'REJECTED', decisionNote: 'not this quarter' }] });
    const chat = await gw.gql('mutation { chat(input: { model: "echo-vault", messages: [{ role: USER, content: "hi" }] }) { message { content } } }', {}, lead.secret);
    expect(chat.errors?.[0]?.message).toMatch(/rejected for team "vault team"/);

    const t = await open(cb, gw, lead.secret);
    await goTo(t.page, 'Access', 'Model access');
    const mine = t.page.locator('tr[data-request]', { has: t.page.getByText('echo-vault', { exact: true }) });
    await expect.poll(() => mine.getByTestId('access-status').innerText()).toBe('REJECTED');
    await mine.getByText('not this quarter', { exact: true }).waitFor();
    expect(await t.page.getByRole('button', { name: /^(Approve|Reject) / }).count()).toBe(0);
    expectNoProblems(p);
    expectNoProblems(t);
    await p.close();
    await t.close();
  }, 60_000);

  it('a budget alert appears live in the Budget alerts list when a key crosses its thresholds', async () => {
    const priced = await gw.gql(
      'mutation { createModel(input: { name: "echo-dear", targets: [{ provider: "echo", upstreamModel: "echo" }], inputPricePerMTok: 100000, outputPricePerMTok: 100000 }) { name } }',
    );
    expect(priced.errors).toBeUndefined();
    const key = await gw.createKey({ name: 'spender <img src=x onerror=alert(5)>', limits: { monthlyBudgetUsd: 0.2 } });
    const p = await open(cb, gw, gw.adminKey);
    await goTo(p.page, 'Access', 'Model access');
    const alerts = p.page.getByRole('region', { name: 'Budget alerts' });
    await alerts.getByText('No budget alert yet', { exact: false }).waitFor();

    // a few tokens at $0.10 each: past half, 80 % and all of the $0.20 budget in one call
    const res = await gw.gql('mutation { chat(input: { model: "echo-dear", messages: [{ role: USER, content: "one two three" }] }) { usage { costUsd } } }', {}, key.secret);
    expect(res.errors).toBeUndefined();
    const rows = alerts.locator('tbody tr', { has: p.page.getByText('key spender <img src=x onerror=alert(5)>', { exact: true }) });
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(3);
    expect((await rows.locator('td:nth-child(3)').allInnerTexts()).sort()).toEqual(['100 %', '50 %', '80 %']);
    expect(await p.page.locator('main img').count()).toBe(0);
    // the request approved in the test before is listed above the alerts
    await p.page.locator('tr[data-request]').first().waitFor();
    await p.screenshot('access');
    expectNoProblems(p);
    await p.close();
  }, 60_000);
});

if (!hasChromium) {
  describe('the Teams and Access pages', () => {
    it('needs Chromium', (ctx) => ctx.skip(SKIP_NOTE));
  });
}
