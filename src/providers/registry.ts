/* ProviderKind → adapter. */
import type { ProviderAdapter } from './types.js';
import { createEchoAdapter } from './echo/index.js';

export type ProviderKind = 'OPENAI' | 'ANTHROPIC' | 'GEMINI' | 'OPENAI_COMPATIBLE' | 'ECHO';
export const PROVIDER_KINDS: ProviderKind[] = ['OPENAI', 'ANTHROPIC', 'GEMINI', 'OPENAI_COMPATIBLE', 'ECHO'];

export type AdapterRegistry = Record<ProviderKind, ProviderAdapter | undefined>;

export function createAdapterRegistry(overrides: Partial<AdapterRegistry> = {}): AdapterRegistry {
  return {
    OPENAI: undefined,
    ANTHROPIC: undefined,
    GEMINI: undefined,
    OPENAI_COMPATIBLE: undefined,
    ECHO: createEchoAdapter({ wordDelayMs: 20 }),
    ...overrides,
  };
}
