import type { GuardrailStage } from './rules.js';

// The shape of usage-writer's GuardrailEvent (the shared foundation), kept here until it lands there.
export interface GuardrailEvent {
  policy: string;
  stage: GuardrailStage;
  rule: 'PII' | 'DENY_LIST' | 'INPUT_TOKENS' | 'JSON_SCHEMA';
  action: 'REDACTED' | 'BLOCKED' | 'RESTORED' | 'RETRIED';
  detail: string | null;
}

export type NoteGuardrail = (e: GuardrailEvent) => void;

/**
 * Notes each distinct event once: a prompt with forty addresses is one "EMAIL redacted" on the usage record, not
 * forty, and a stream noting as it goes does not grow the record with every chunk.
 */
export function noteOnce(note: NoteGuardrail): NoteGuardrail {
  const seen = new Set<string>();
  return (e) => {
    const key = `${e.policy}\u0000${e.stage}\u0000${e.rule}\u0000${e.action}\u0000${e.detail ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    note(e);
  };
}
