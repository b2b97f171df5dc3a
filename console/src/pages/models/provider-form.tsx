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
type AuthScheme = 'API_KEY' | 'BEARER';

const KINDS: Array<{ kind: Kind; label: string }> = [
  { kind: 'OPENAI_COMPATIBLE', label: 'OpenAI-compatible (Mistral, Groq, Ollama, vLLM…)' },
  { kind: 'OPENAI', label: 'OpenAI' },
  { kind: 'ANTHROPIC', label: 'Anthropic' },
  { kind: 'GEMINI', label: 'Google Gemini' },
  { kind: 'AZURE_OPENAI', label: 'Azure OpenAI' },
  { kind: 'BEDROCK', label: 'AWS Bedrock' },
  { kind: 'VERTEX', label: 'Google Vertex AI' },
  { kind: 'ECHO', label: 'Echo (built-in, offline)' },
];

interface ProviderDraft {
  name: string;
  kind: Kind;
  baseUrl: string;
  apiKey: string;
  removeKey: boolean;
  enabled: boolean;
  apiVersion: string;
  authScheme: AuthScheme;
  region: string;
  project: string;
}

/** What the credential is for each kind; the field is write-only whatever it holds. */
const CREDENTIAL_HINT: Partial<Record<Kind, string>> = {
  BEDROCK: 'accessKeyId:secretAccessKey[:sessionToken]',
  VERTEX: 'service account key file (JSON)',
};

/** Only the settings the kind reads are sent, so switching kinds in the form leaves no stray value behind; none → null. */
function toProviderSettings(d: ProviderDraft): CreateInput['settings'] {
  const t = (v: string) => v.trim() || null;
  if (d.kind === 'AZURE_OPENAI') return { apiVersion: t(d.apiVersion), authScheme: d.authScheme };
  if (d.kind === 'BEDROCK') return t(d.region) ? { region: t(d.region) } : null;
  if (d.kind === 'VERTEX') return t(d.region) || t(d.project) ? { region: t(d.region), project: t(d.project) } : null;
  return null;
}

export function toCreateProviderInput(d: ProviderDraft): CreateInput {
  return { name: d.name.trim(), kind: d.kind, baseUrl: d.baseUrl.trim() || null, apiKey: d.apiKey || null, enabled: d.enabled, settings: toProviderSettings(d) };
}

export function toUpdateProviderInput(d: ProviderDraft): UpdateInput {
  const apiKey = d.removeKey ? { apiKey: '' } : d.apiKey ? { apiKey: d.apiKey } : {};
  return { baseUrl: d.baseUrl.trim() || null, enabled: d.enabled, settings: toProviderSettings(d), ...apiKey };
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
    apiVersion: provider?.settings?.apiVersion ?? '',
    authScheme: provider?.settings?.authScheme ?? 'API_KEY',
    region: provider?.settings?.region ?? '',
    project: provider?.settings?.project ?? '',
  });
  const set = (patch: Partial<ProviderDraft>) => setD((x) => ({ ...x, ...patch }));
  const editing = provider != null;
  const hint = CREDENTIAL_HINT[d.kind];
  const credentialLabel = `${hint ? 'Credential' : 'API key'} ${
    editing ? (provider.hasCredential ? '(stored; type a new one to replace it)' : '(none stored)') : '(optional)'
  }${hint ? `: ${hint}` : ''}`;
  const credentialProps = {
    name: 'apiKey',
    spellcheck: false,
    value: d.apiKey,
    disabled: d.removeKey,
    onInput: (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) => set({ apiKey: e.currentTarget.value }),
  };

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
        Base URL {d.kind === 'OPENAI_COMPATIBLE' || d.kind === 'AZURE_OPENAI' ? '(required)' : '(empty: the public endpoint)'}
        <input name="baseUrl" type="url" placeholder="https://api.example.com/v1" value={d.baseUrl} onInput={(e) => set({ baseUrl: e.currentTarget.value })} />
      </label>
      {d.kind === 'AZURE_OPENAI' ? (
        <div class="form-row">
          <label>
            API version
            <input name="apiVersion" placeholder="2024-10-21" value={d.apiVersion} onInput={(e) => set({ apiVersion: e.currentTarget.value })} />
          </label>
          <label>
            Send the credential as
            <select name="authScheme" value={d.authScheme} onChange={(e) => set({ authScheme: e.currentTarget.value as AuthScheme })}>
              <option value="API_KEY">api-key header (resource key)</option>
              <option value="BEARER">Bearer token (Entra ID)</option>
            </select>
          </label>
        </div>
      ) : null}
      {d.kind === 'BEDROCK' || d.kind === 'VERTEX' ? (
        <div class="form-row">
          <label>
            {d.kind === 'BEDROCK' ? 'Region' : 'Region (location)'}
            <input name="region" placeholder={d.kind === 'BEDROCK' ? 'us-east-1' : 'us-central1'} value={d.region} onInput={(e) => set({ region: e.currentTarget.value })} />
          </label>
          {d.kind === 'VERTEX' ? (
            <label>
              Project (empty: the service account's)
              <input name="project" value={d.project} onInput={(e) => set({ project: e.currentTarget.value })} />
            </label>
          ) : null}
        </div>
      ) : null}
      <label>
        {credentialLabel}
        {d.kind === 'VERTEX' ? (
          <textarea {...credentialProps} rows={4} class="mono" />
        ) : (
          <input {...credentialProps} type="password" autoComplete="new-password" />
        )}
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
