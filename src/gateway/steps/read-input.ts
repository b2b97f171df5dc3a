/* Step: the caller's input validated into the adapters' request (chat, stream) or checked (embed); metadata tagged. */
import { checkCacheOptions } from '../../cache/cache-policy.js';
import { badInput } from '../../errors.js';
import { checkEndUser } from '../end-user.js';
import { toChatRequest, toMetadata } from '../chat-input.js';
import type { EmbedInput } from '../invocation.js';
import type { InputBounds } from '../chat-input.js';
import type { Step } from '../pipeline.js';

export const readInput: Step = {
  name: 'read-input',
  before(inv, { bounds }) {
    const { input, options } = inv;
    // never an invalid end user on the record, even when this call is refused for it
    inv.event.endUser = null;
    inv.event.endUser = checkEndUser(input.kind === 'embed' ? input.embed.user : input.chat.user, 'input.user');
    if (input.kind === 'embed') return checkEmbedInput(input.embed, inv.modelName, bounds);
    const metadata = toMetadata(input.chat.metadata);
    inv.event.metadata = options.metadata ? { ...(metadata ?? {}), ...options.metadata } : metadata;
    inv.request = toChatRequest(input.chat, bounds, options.warnings);
    checkCacheOptions(input.chat.cache, 'input.cache');
  },
};

function checkEmbedInput(embed: EmbedInput, modelName: string, bounds: InputBounds): void {
  if (!modelName.trim()) throw badInput('input.model', 'must not be empty');
  if (!Array.isArray(embed.input) || !embed.input.length) throw badInput('input.input', 'must contain at least one string');
  if (embed.input.length > 2048) throw badInput('input.input', 'at most 2048 strings per call');
  const total = embed.input.reduce((s, x) => s + x.length, 0);
  if (total > bounds.maxInputChars) throw badInput('input.input', `total input must be at most ${bounds.maxInputChars} characters`);
}
