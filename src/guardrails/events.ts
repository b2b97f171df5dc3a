import type { GuardrailEvent } from '../gateway/usage-writer.js';

export type NoteGuardrail = (e: GuardrailEvent) => void;

/**
 * Notes each distinct action once, counting repeats in its detail ("EMAIL x3"): a prompt with forty addresses is
 * one event on the usage record, not forty, and a stream noting as it goes does not grow the record with each chunk.
 */
export function countingNotes(note: NoteGuardrail): NoteGuardrail {
  const seen = new Map<string, { event: GuardrailEvent; label: string | null; count: number }>();
  return (e) => {
    const key = `${e.policy}\u0000${e.stage}\u0000${e.rule}\u0000${e.action}\u0000${e.detail ?? ''}`;
    const known = seen.get(key);
    if (!known) {
      const event = { ...e };
      seen.set(key, { event, label: e.detail, count: 1 });
      note(event);
      return;
    }
    known.count++;
    // the event is on the record already, by reference: it is recorded when the call ends
    known.event.detail = `${known.label ?? ''} x${known.count}`.trim();
  };
}
