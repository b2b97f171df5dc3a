/*
 * GET /v1/models and GET /v1/models/{model}: the models the key may invoke, in OpenAI's list format.
 * Retired models are left out of the list (they can no longer be invoked; retrieving one answers 410);
 * deprecated ones are listed.
 * Providers behind a model are not disclosed: owned_by is always "gateway".
 * @see https://platform.openai.com/docs/api-reference/models/list
 */
import type { ModelRow } from '../../db/schema.js';
import { modelNotFound, modelRetired } from '../../errors.js';
import type { Principal } from '../../services/keys.js';
import { requirePrincipal, sendJson, type RestContext } from './http.js';
import type { Model } from './schemas.js';

function invocable(p: Principal, m: ModelRow): boolean {
  if (m.status === 'RETIRED') return false;
  if (p.isAdmin) return true;
  return !p.key.allowedModels || p.key.allowedModels.includes(m.name);
}

const toModel = (m: ModelRow): Model => ({ id: m.name, object: 'model', created: Math.floor(m.createdAt.getTime() / 1000), owned_by: 'gateway' });

async function invoker(ctx: RestContext): Promise<Principal> {
  const principal = await requirePrincipal(ctx);
  ctx.services.gateway.requireInvoke(principal);
  return principal;
}

export async function handleListModels(ctx: RestContext): Promise<void> {
  const principal = await invoker(ctx);
  const rows = await ctx.services.catalogue.listModels();
  sendJson(ctx.res, 200, { object: 'list', data: rows.filter((m) => invocable(principal, m)).map(toModel) });
}

export async function handleRetrieveModel(ctx: RestContext, name: string): Promise<void> {
  const principal = await invoker(ctx);
  const row = await ctx.services.catalogue.findModel(name);
  if (row?.status === 'RETIRED' && (principal.isAdmin || !principal.key.allowedModels || principal.key.allowedModels.includes(name))) {
    throw modelRetired(name);
  }
  if (!row || !invocable(principal, row)) throw modelNotFound(name);
  sendJson(ctx.res, 200, toModel(row));
}
