/*
 * The form for a new provider and for changing one. The API key is write-only: the form never shows a stored one,
 * an empty field keeps it, and removing it is a separate, explicit choice.
 */
import { FormFooter } from '../../components/form-footer';
import { useState } from 'preact/hooks';
import type { ResultOf, VariablesOf } from '../../graphql';
import type { CreateProviderMutation, ProviderFields, UpdateProviderMutation } from './documents';

export type ProviderRow = ResultOf<typeof ProviderFields>;
type Kind = ProviderRow['kind'];
type CreateInput = VariablesOf<typeof CreateProviderMutation>['input'];
type UpdateInput = VariablesOf<typeof UpdateProviderMutation>['input'];

const KINDS: Array<{ kind: Kind; label: string }> = [
  { kind: 'OPENAI_COMPATIBLE', label: 'OpenAI-compatible (Mistral, Groq, Ollama, vLLM…)' },
  { kind: 'OPENAI', label: 'OpenAI' },
  { kind: 'ANTHROPIC', label: 'Anthropic' },
  { kind: 'GEMINI', label: 'Google Gemini' },
  { kind: 'ECHO', label: 'Echo (built-in, offline)' },
];

interface ProviderDraft {
  name: string;
  kind: Kind;
  baseUrl: string;
  apiKey: string;
  removeKey: boolean;
  enabled: boolean;
}

export function toCreateProviderInput(d: ProviderDraft): CreateInput {
  return { name: d.name.trim(), kind: d.kind, baseUrl: d.baseUrl.trim() || null, apiKey: d.apiKey || null, enabled: d.enabled };
}

export function toUpdateProviderInput(d: ProviderDraft): UpdateInput {
  const apiKey = d.removeKey ? { apiKey: '' } : d.apiKey ? { apiKey: d.apiKey } : {};
  return { baseUrl: d.baseUrl.trim() || null, enabled: d.enabled, ...apiKey };
}

export interface ProviderFormProps {
  /** The provider being changed; a new one when absent */
  provider?: ProviderRow;
  busy: boolean;
  error: string | null;
  onSubmit(draft: ProviderDraft): void;
  onCancel(): void;
}

export function ProviderForm({ provider, busy, error, onSubmit, onCancel }: ProviderFormProps) {
  const [d, setD] = useState<ProviderDraft>({
    name: provider?.name ?? '',
    kind: provider?.kind ?? 'OPENAI_COMPATIBLE',
    baseUrl: provider?.baseUrl ?? '',
    apiKey: '',
    removeKey: false,
    enabled: provider?.enabled ?? true,
  });
  const set = (patch: Partial<ProviderDraft>) => setD((x) => ({ ...x, ...patch }));
  const editing = provider != null;

  return (
    <form
      class="stack-form"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(d);
      }}
    >
      <div class="form-row">
        <label>
          Provider name
          <input name="name" required disabled={editing} value={d.name} onInput={(e) => set({ name: e.currentTarget.value })} />
        </label>
        <label>
          Kind
          <select name="kind" disabled={editing} value={d.kind} onChange={(e) => set({ kind: e.currentTarget.value as Kind })}>
            {KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Base URL {d.kind === 'OPENAI_COMPATIBLE' ? '(required)' : '(empty: the public endpoint)'}
        <input name="baseUrl" type="url" placeholder="https://api.example.com/v1" value={d.baseUrl} onInput={(e) => set({ baseUrl: e.currentTarget.value })} />
      </label>
      <label>
        API key {editing ? (provider.hasCredential ? '(stored; type a new one to replace it)' : '(none stored)') : '(optional)'}
        <input name="apiKey" type="password" autoComplete="new-password" spellcheck={false} value={d.apiKey} disabled={d.removeKey} onInput={(e) => set({ apiKey: e.currentTarget.value })} />
      </label>
      <div class="checks">
        <label>
          <input type="checkbox" checked={d.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          Enabled (routing may use it)
        </label>
        {editing && provider.hasCredential ? (
          <label>
            <input type="checkbox" checked={d.removeKey} onChange={(e) => set({ removeKey: e.currentTarget.checked, apiKey: '' })} />
            Remove the stored API key
          </label>
        ) : null}
      </div>
      <FormFooter error={error} busy={busy} submitLabel={editing ? 'Save provider' : 'Create provider'} onCancel={onCancel} />
    </form>
  );
}
