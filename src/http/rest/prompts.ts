/*
 * POST /v1/prompts/{name}/run: fills a stored prompt's {{variables}} and invokes its model through the
 * same core as GraphQL's runPrompt. Answers a chat.completion plus `prompt: {name, version}`, or, with
 * `stream: true`, the same chat.completion.chunk events as /v1/chat/completions.
 */
import { respondChat, withRestParam } from './chat-completions.js';
import { parseBody, readJson, requirePrincipal, type RestContext } from './http.js';
import { PromptNameParams, PromptRunRequest, restEndUser } from './schemas.js';

export async function handleRunPrompt(ctx: RestContext, name: string): Promise<void> {
  const principal = await requirePrincipal(ctx);
  ctx.services.gateway.requireInvoke(principal);
  const params = parseBody(PromptNameParams, { name });
  const body = parseBody(PromptRunRequest, await readJson(ctx));
  const { input, opts, prompt } = await ctx.services.gateway
    .preparePrompt(
      { name: params.name, version: body.version, variables: body.variables ?? {}, user: restEndUser(body.user) },
      { principal, signal: ctx.signal, warnings: [], requestId: ctx.requestId, trace: ctx.trace },
    )
    .catch((e: unknown) => Promise.reject(withRestParam(e)));
  await respondChat(ctx, input, { ...opts, warnings: opts.warnings ?? [] }, {
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    extra: { prompt },
  });
}
