/*
 * POST /v1/embeddings → gateway.embed. OpenAI's SDK asks for base64 unless told otherwise, then decodes
 * little-endian float32 itself, so both encodings are served.
 * @see https://platform.openai.com/docs/api-reference/embeddings/create
 */
import { parseBody, readJson, requirePrincipal, sendJson, warningHeaders, type RestContext } from './http.js';
import { withRestParam } from './chat-completions.js';
import { EmbeddingsRequest, restEndUser, type EmbeddingsResponse } from './schemas.js';

function float32Base64(vector: number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

export async function handleEmbeddings(ctx: RestContext): Promise<void> {
  const principal = await requirePrincipal(ctx);
  const body = parseBody(EmbeddingsRequest, await readJson(ctx));
  const input = typeof body.input === 'string' ? [body.input] : body.input;
  const warnings: string[] = [];
  const result = await ctx.services.gateway
    .embed({ model: body.model, input, user: restEndUser(body.user) }, { principal, signal: ctx.signal, warnings, requestId: ctx.requestId, trace: ctx.trace })
    .catch((e: unknown) => Promise.reject(withRestParam(e)));
  const base64 = body.encoding_format === 'base64';
  const response: EmbeddingsResponse = {
    object: 'list',
    data: result.vectors.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? float32Base64(v) : v })),
    model: result.model,
    usage: { prompt_tokens: result.usage.promptTokens, total_tokens: result.usage.totalTokens },
  };
  sendJson(ctx.res, 200, response, warningHeaders(warnings));
}
