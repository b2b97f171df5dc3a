/*
 * GET /v1/models and GET /v1/models/{model}: the models the key may invoke, in OpenAI's list format
 * (src/services/access.ts isInvocableBy): a key without INVOKE gets an empty list. Retired models are left out of the
 * list (they can no longer be invoked; retrieving one answers 410); deprecated ones are listed. Unlike GraphQL's
 * `models`, a model that requires approval is listed only once the key's team was granted it: OpenAI clients pick
 * from this list, and cannot ask for access.
 * Providers behind a model are not disclosed: owned_by is always "gateway".
 * @see https://platform.openai.com/docs/api-reference/models/list
 */
import type { ModelRow } from '../../db/schema.js';
import { modelNotFound, modelRetired } from '../../errors.js';
import { isGranted, isInvocableBy, mayInvoke } from '../../services/access.js';
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
  // as the list: a model awaiting its team's approval is not one this key can invoke
  if (!row || !mayInvoke(principal, model) || !isGranted(principal, row)) throw modelNotFound(model);
  // the keys that could invoke a retired model learn why it no longer answers
  if (row.status === 'RETIRED') throw modelRetired(model);
  sendJson(ctx.res, 200, toModel(row));
}
