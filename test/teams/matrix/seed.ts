/*
 * Teams A and B through the public API, as far as the schema has them: teams, a TEAM_ADMIN and a plain key each,
 * a prompt, usage records with an end user, a webhook, a model access request and budget alerts. Every string B
 * owns carries B_MARKER; B's ids and secrets go into Targets. A feature the schema does not have yet is skipped
 * (and listed in `skipped`), so the matrix runs on whatever has been merged.
 */
import type { GraphQLSchema } from 'graphql';
import type { AnyJson } from '../../kit/json.js';
import type { GqlResponse, TestGateway } from '../../kit/start-gateway.js';
import { A_MARKER, B_MARKER, Targets } from './targets.js';

interface TeamKeys {
  teamId: string | null;
  /** A key with TEAM_ADMIN (INVOKE and READ_USAGE too). */
  admin: string;
  /** A plain INVOKE + READ_USAGE key. */
  plain: string;
  plainId: string;
}

export interface Seeded {
  a: TeamKeys;
  b: TeamKeys;
  targets: Targets;
  /** Models that need approval, one per access request B makes: [0] while seeding, the others as later events. */
  approvalModels: string[];
  skipped: string[];
}

const APPROVAL_MODELS = ['gated-one', 'gated-two', 'gated-three'];

/** Does the schema have this field (on a root or input type)? */
export function hasField(schema: GraphQLSchema, typeName: string, field: string): boolean {
  const type = schema.getType(typeName);
  return !!type && 'getFields' in type && field in type.getFields();
}

function data(res: GqlResponse, what: string): AnyJson {
  if (res.errors?.length || !res.data) throw new Error(`${what} failed: ${JSON.stringify(res.errors)}`);
  return res.data;
}

export async function seedTeams(gw: TestGateway, schema: GraphQLSchema): Promise<Seeded> {
  const targets = new Targets();
  const skipped: string[] = [];
  const teams = hasField(schema, 'Mutation', 'createTeam');
  if (!teams) skipped.push('teams (no Mutation.createTeam): A and B are keys without a team');

  const approval = hasField(schema, 'CreateModelInput', 'requiresApproval');
  for (const name of APPROVAL_MODELS) {
    const input = { name, targets: [{ provider: 'echo', upstreamModel: 'echo' }], ...(approval ? { requiresApproval: true } : {}) };
    data(await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', { input }), `createModel ${name}`);
  }

  const a = await seedTeam(gw, schema, A_MARKER, teams, null);
  if (a.teamId) targets.ownIdByType.set('Team', a.teamId);
  targets.ownIdByType.set('ApiKey', a.plainId);
  const b = await seedTeam(gw, schema, B_MARKER, teams, targets);

  // B's own prompt: created by its TEAM_ADMIN, so it is B's (an ADMIN one would be everyone's)
  const prompt = {
    name: `${B_MARKER}-prompt`,
    model: 'echo',
    messages: [{ role: 'USER', content: `${B_MARKER} secret recipe for {{${B_MARKER}var}}` }],
  };
  const created = await gw.gql('mutation($input: CreatePromptInput!) { createPrompt(input: $input) { id name } }', { input: prompt }, b.admin);
  if (created.data?.createPrompt) {
    targets.addId('PromptTemplate', created.data.createPrompt.id);
    targets.addName('PromptTemplate', prompt.name);
  } else skipped.push(`B's prompt (a TEAM_ADMIN cannot create one yet: ${created.errors?.[0]?.extensions?.code})`);

  for (const [key, marker] of [
    [a.admin, A_MARKER],
    [a.plain, A_MARKER],
    [b.admin, B_MARKER],
    [b.plain, B_MARKER],
  ] as const) {
    const input = { model: 'echo', messages: [{ role: 'USER', content: `${marker} hello` }], user: `${marker}-user`, metadata: { tag: `${marker}-meta` } };
    data(await gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input }, key), `chat as ${marker}`);
  }
  targets.addName('user', `${B_MARKER}-user`);
  await gw.flushUsage();
  const usage = data(await gw.gql('{ usage(first: 500) { edges { node { id metadata } } } }'), 'usage as ADMIN');
  for (const { node } of usage.usage.edges) if (JSON.stringify(node.metadata ?? '').includes(B_MARKER)) targets.addId('UsageRecord', node.id);

  if (hasField(schema, 'Mutation', 'createWebhook')) {
    const input = { url: `https://${B_MARKER.toLowerCase()}.invalid/hook`, description: `${B_MARKER} hook`, team: b.teamId };
    const q = 'mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { id } } }';
    let res = await gw.gql(q, { input }, b.admin);
    if (!res.data?.createWebhook) res = await gw.gql(q, { input });
    const hook = data(res, 'createWebhook for B').createWebhook;
    targets.addId('Webhook', hook.webhook.id);
    targets.secrets.push(hook.secret);
  } else skipped.push('webhooks (no Mutation.createWebhook)');

  if (hasField(schema, 'Mutation', 'requestModelAccess') && b.teamId) {
    const input = { model: APPROVAL_MODELS[0], reason: `${B_MARKER} needs it for the demo` };
    const req = data(await gw.gql('mutation($input: RequestModelAccessInput!) { requestModelAccess(input: $input) { id } }', { input }, b.admin), 'requestModelAccess for B');
    targets.addId('ModelAccessRequest', req.requestModelAccess.id);
  } else skipped.push('model access requests (no Mutation.requestModelAccess, or no teams)');

  if (hasField(schema, 'Query', 'budgetAlerts') && hasField(schema, 'CreateApiKeyInput', 'team')) {
    if (!(await seedBudgetAlerts(gw, b.teamId, targets))) skipped.push('budget alerts (none was raised for B within 5 s)');
  } else skipped.push('budget alerts (no Query.budgetAlerts)');

  return { a, b, targets, approvalModels: APPROVAL_MODELS, skipped };
}

async function seedTeam(gw: TestGateway, schema: GraphQLSchema, marker: string, teams: boolean, targets: Targets | null): Promise<TeamKeys> {
  let teamId: string | null = null;
  if (teams) {
    const name = `${marker} team`;
    const res = await gw.gql('mutation($input: CreateTeamInput!) { createTeam(input: $input) { id } }', { input: { name, description: `${marker} description` } });
    teamId = data(res, `createTeam ${name}`).createTeam.id;
    targets?.addId('Team', teamId);
    targets?.addName('Team', name);
  }
  const team = hasField(schema, 'CreateApiKeyInput', 'team') && teamId ? { team: teamId } : {};
  const admin = await gw.createKey({ name: `${marker} admin`, scopes: ['TEAM_ADMIN', 'INVOKE', 'READ_USAGE'], ...team });
  const plain = await gw.createKey({ name: `${marker} plain`, scopes: ['INVOKE', 'READ_USAGE'], ...team });
  for (const k of [admin, plain]) {
    targets?.addId('ApiKey', k.id);
    targets?.secrets.push(k.secret);
  }
  targets?.addName('ApiKey', `${marker} admin`);
  targets?.addName('ApiKey', `${marker} plain`);
  return { teamId, admin: admin.secret, plain: plain.secret, plainId: plain.id };
}

/** A B key with a budget a single priced call exceeds: its thresholds are crossed and alerted at once. */
async function seedBudgetAlerts(gw: TestGateway, teamId: string | null, targets: Targets): Promise<boolean> {
  const priced = { name: 'priced-echo', targets: [{ provider: 'echo', upstreamModel: 'echo' }], inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 };
  data(await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', { input: priced }), 'createModel priced-echo');
  const name = `${B_MARKER} budget`;
  const key = await gw.createKey({ name, scopes: ['INVOKE'], limits: { monthlyBudgetUsd: 1 }, ...(teamId ? { team: teamId } : {}) });
  targets.addId('ApiKey', key.id);
  targets.addName('ApiKey', name);
  targets.secrets.push(key.secret);
  const input = { model: 'priced-echo', messages: [{ role: 'USER', content: `${B_MARKER} spend` }] };
  data(await gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input }, key.secret), 'a priced chat for B');
  for (let i = 0; i < 100; i++) {
    await gw.flushUsage();
    const res = await gw.gql('{ budgetAlerts(first: 50) { id apiKey { id } } }');
    const mine = (res.data?.budgetAlerts ?? []).filter((x: AnyJson) => x.apiKey?.id === key.id);
    if (mine.length) {
      for (const alert of mine) targets.addId('BudgetAlert', alert.id);
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
