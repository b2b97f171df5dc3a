/* A stored prompt as a chat input for the pipeline: looked up for the caller, filled, and tagged with its name and version. */
import { notFound } from '../errors.js';
import { checkEndUser } from './end-user.js';
import { requireInvoke } from '../services/access.js';
import { fillPrompt, type PromptService } from '../services/prompts.js';
import type { ChatInput } from './chat-input.js';
import type { InvocationOptions } from './invocation.js';

/** A stored prompt to run: its name, an optional version (latest when absent) and the values of its {{variables}}. */
export interface PromptRef {
  name: string;
  version?: number | null;
  variables?: unknown;
  /** The end user the run serves (ChatInput.user). */
  user?: string | null;
}

export interface PreparedPrompt {
  input: ChatInput;
  opts: InvocationOptions;
  prompt: { name: string; version: number };
}

/** The scope is checked before the lookup, so a key that may not invoke learns nothing about which prompts exist. */
export async function preparePrompt(prompts: PromptService, ref: PromptRef, opts: InvocationOptions): Promise<PreparedPrompt> {
  requireInvoke(opts.principal);
  const user = checkEndUser(ref.user, 'user');
  const prompt = await prompts.getFor(opts.principal, ref.name, ref.version);
  if (!prompt) throw notFound('Prompt', ref.version != null ? `${ref.name}@${ref.version}` : ref.name);
  const input: ChatInput = { model: prompt.model, messages: fillPrompt(prompt, ref.variables), user };
  const metadata = { ...opts.metadata, prompt: prompt.name, promptVersion: prompt.version };
  return { input, opts: { ...opts, metadata }, prompt: { name: prompt.name, version: prompt.version } };
}
