/* The conversation sent to the model: a row per message (role and text), rows added and removed freely. */
import { useId } from 'preact/hooks';
import './message-editor.css';

/** The roles a person writes; TOOL messages belong to tool calls, which these forms do not make. */
export type ChatRole = 'SYSTEM' | 'USER' | 'ASSISTANT';

export interface DraftMessage {
  /** Stable across edits, so Preact keeps each textarea's focus and caret */
  id: number;
  role: ChatRole;
  content: string;
}

const ROLES: ChatRole[] = ['SYSTEM', 'USER', 'ASSISTANT'];

let nextId = 1;
export const draftMessage = (role: ChatRole, content = ''): DraftMessage => ({ id: nextId++, role, content });

export function MessageEditor({ messages, onChange, disabled, hint }: { messages: DraftMessage[]; onChange: (m: DraftMessage[]) => void; disabled: boolean; hint?: string }) {
  const edit = (id: number, patch: Partial<DraftMessage>) => onChange(messages.map((m) => (m.id === id ? { ...m, ...patch } : m)));
  const last = messages.at(-1)?.role;
  const idBase = useId();
  return (
    <fieldset class="messages" disabled={disabled}>
      <legend>Messages</legend>
      {hint ? <p class="muted small message-hint">{hint}</p> : null}
      {messages.map((m, i) => (
        <div class="message-row" key={m.id}>
          <div class="message-role">
            {/* a label around a select would count the options' text as its name */}
            <label for={`${idBase}-role-${m.id}`}>
              Role<span class="sr-only"> of message {i + 1}</span>
            </label>
            <select id={`${idBase}-role-${m.id}`} value={m.role} onChange={(e) => edit(m.id, { role: e.currentTarget.value as ChatRole })}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r.toLowerCase()}
                </option>
              ))}
            </select>
          </div>
          <label class="message-text">
            Message {i + 1}
            <textarea rows={m.role === 'SYSTEM' ? 2 : 3} value={m.content} onInput={(e) => edit(m.id, { content: e.currentTarget.value })} />
          </label>
          <button type="button" class="danger remove" aria-label={`Remove message ${i + 1}`} title="Remove" disabled={messages.length === 1} onClick={() => onChange(messages.filter((x) => x.id !== m.id))}>
            ×
          </button>
        </div>
      ))}
      <div class="message-actions">
        <button type="button" onClick={() => onChange([...messages, draftMessage(last === 'USER' ? 'ASSISTANT' : 'USER')])}>
          Add message
        </button>
      </div>
    </fieldset>
  );
}
