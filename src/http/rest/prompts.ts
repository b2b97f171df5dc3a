/*
 * POST /v1/prompts/{name}/run: fills a stored prompt's {{variables}} and invokes its model through the
 * same core as GraphQL's runPrompt. Answers a chat.completion plus `prompt: {name, version}`, or, with
 * `stream: true`, the same chat.completion.chunk events as /v1/chat/completions.
 */
import { notFound } from '../../errors.js';
import { fillPrompt } from '../../services/prompts.js';
import { respondChat } from './chat-completions.js';
import { parseBody, readJson, requirePrincipal, type RestContext } from './http.js';
import { PromptRunRequest } from './schemas.js';

export async function handleRunPrompt(ctx: RestContext, name: string): Promise<void> {
  const principal = await requirePrincipal(ctx);
  ctx.services.gateway.requireInvoke(principal);
  const body = parseBody(PromptRunRequest, await readJson(ctx));
  const prompt = await ctx.services.prompts.get(name, body.version);
  if (!prompt) throw notFound('Prompt', body.version != null ? `${name}@${body.version}` : name);
  const messages = fillPrompt(prompt, body.variables ?? {});
  await respondChat(
    ctx,
    { model: prompt.model, messages },
    { principal, signal: ctx.signal, warnings: [], requestId: ctx.requestId, metadata: { prompt: prompt.name, promptVersion: prompt.version } },
    { stream: body.stream === true, includeUsage: body.stream_options?.include_usage === true, extra: { prompt: { name: prompt.name, version: prompt.version } } },
  );
}
