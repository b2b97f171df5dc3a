/*
 * Who may use what: the one place the INVOKE scope and a key's model allow-list are read, for invoking (gateway
 * core), for listing models (GraphQL `models`/`model`, REST `GET /v1/models`) and for reading prompt templates
 * (GraphQL `prompts`/`prompt`, `runPrompt`, REST `POST /v1/prompts/{name}/run`), and which keys and usage records a
 * key reads (`viewer`, `usage`, `usageSummary`, `usageRecorded`, UsageRecord.apiKey). `node(id:)` applies the same.
 */
import type { ModelRow, PromptRow } from '../db/schema.js';
import { forbidden } from '../errors.js';
import type { Principal } from './keys.js';

export const hasInvokeScope = (p: Principal): boolean => p.isAdmin || p.scopes.has('INVOKE');

/** @param what names the refused operation in the message, e.g. "Mutation.chat" */
export function requireInvoke(p: Principal, what?: string): void {
  if (!hasInvokeScope(p)) throw forbidden(what ? `This key may not access ${what}` : 'This key lacks the INVOKE scope');
}

/** The key's allow-list admits this public model name (ADMIN keys and keys without a list admit every name). */
export const allowsModel = (p: Principal, name: string): boolean =>
  p.isAdmin || !p.key.allowedModels || p.key.allowedModels.includes(name);

/** May invoke the model of this name, should it exist and be served. */
export const mayInvoke = (p: Principal, name: string): boolean => hasInvokeScope(p) && allowsModel(p, name);

/**
 * The contract lists "models the caller may invoke (all of them for ADMIN)": a key without INVOKE sees none, and
 * retired models (no longer invocable) only ADMIN, who manages them.
 */
export const seesModel = (p: Principal, m: ModelRow): boolean => p.isAdmin || isInvocableBy(p, m);

/** A model this key can invoke now: not retired, and admitted by its scope and allow-list (OpenAI's model list). */
export const isInvocableBy = (p: Principal, m: ModelRow): boolean => m.status !== 'RETIRED' && mayInvoke(p, m.name);

/**
 * A template is read by those who may run it: ADMIN, and INVOKE keys whose allow-list admits its model. Anyone
 * else is answered as if it did not exist, so templates (their text is often the product) stay with the keys
 * that use them.
 */
export const readsPrompt = (p: Principal, prompt: PromptRow): boolean => mayInvoke(p, prompt.model);

/** Whose usage records this key reads: everyone's for ADMIN (null), any other key's own only. */
export const usageScopeKeyId = (p: Principal): string | null => (p.isAdmin ? null : p.key.id);

/** ADMIN reads every API key; any other key only itself (`viewer`). */
export const readsKey = (p: Principal, keyId: string): boolean => p.isAdmin || keyId === p.key.id;
