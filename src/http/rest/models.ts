/*
 * GET /v1/models and GET /v1/models/{model}: the models the key may invoke, in OpenAI's list format, by the same
 * rule as GraphQL's `models` (src/services/access.ts): a key without INVOKE gets an empty list. Retired models are
 * left out of the list (they can no longer be invoked; retrieving one answers 410); deprecated ones are listed.
 * Providers behind a model are not disclosed: owned_by is always "gateway".
 * @see https://platform.openai.com/docs/api-reference/models/list
 */
import type { ModelRow } from '../../db/schema.js';
import { modelNotFound, modelRetired } from '../../errors.js';
import { isInvocableBy, mayInvoke } from '../../services/access.js';
import { parseBody, requirePrincipal, sendJson, type RestContext } from './http.js';
import { ModelIdParams, type Model } from './schemas.js';

const toModel = (m: ModelRow): Model => ({ id: m.name, object: 'model', created: Math.floor(m.createdAt.getTime() / 1000), owned_by: 'gateway' });

export async function handleListModels(ctx: RestContext): Promise<void> {
  const principal = await requirePrincipal(ctx);
  const rows = await ctx.services.catalogue.listModels();
  sendJson(ctx.res, 200, { object: 'list', data: rows.filter((m) => isInvocableBy(principal, m)).map(toModel) });
}

export async function handleRetrieveModel(ctx: RestContext, name: string): Promise<void> {
  const principal = await requirePrincipal(ctx);
  const { model } = parseBody(ModelIdParams, { model: name });
  const row = await ctx.services.catalogue.findModel(model);
  if (!row || !mayInvoke(principal, model)) throw modelNotFound(model);
  // the keys that could invoke a retired model learn why it no longer answers
  if (row.status === 'RETIRED') throw modelRetired(model);
  sendJson(ctx.res, 200, toModel(row));
}
