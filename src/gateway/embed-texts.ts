/*
 * The texts an embed call sends upstream: the caller's, unless a step rewrote them (guardrail input rules redact
 * them). Kept beside the Invocation rather than on it, whose `input` stays what the caller sent.
 */
import type { Invocation } from './invocation.js';

const rewritten = new WeakMap<Invocation, readonly string[]>();

export function setEmbedTexts(inv: Invocation, texts: readonly string[]): void {
  rewritten.set(inv, texts);
}

export function embedTexts(inv: Invocation): string[] {
  if (inv.input.kind !== 'embed') throw new Error('embedTexts on a chat invocation');
  return [...(rewritten.get(inv) ?? inv.input.embed.input)];
}
