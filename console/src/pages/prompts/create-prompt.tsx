/* ADMIN: a new prompt, or a new version of one (the same name), with {{variable}} placeholders in its messages. */
import { useMutation, useQuery } from '@urql/preact';
import { useId, useState } from 'preact/hooks';
import { ErrorNote } from '../../components/error-note';
import { draftMessage, MessageEditor, type DraftMessage } from '../../components/message-editor';
import { CreatePromptMutation, PromptModelsQuery, type PromptVersion } from './queries';

interface Props {
  /** The version to start from (a new version of it), or none for a new prompt */
  base: PromptVersion | null;
  onCreated: (name: string, version: number) => void;
  onCancel: () => void;
}

export function CreatePrompt({ base, onCreated, onCancel }: Props) {
  const [name, setName] = useState(base?.name ?? '');
  const [model, setModel] = useState(base?.model ?? '');
  const [messages, setMessages] = useState<DraftMessage[]>(() =>
    base ? base.messages.map((m) => draftMessage(m.role === 'TOOL' ? 'USER' : m.role, m.content)) : [draftMessage('SYSTEM'), draftMessage('USER')],
  );
  const [{ data: models }] = useQuery({ query: PromptModelsQuery });
  const [state, create] = useMutation(CreatePromptMutation);
  const id = useId();

  async function submit(e: Event) {
    e.preventDefault();
    const r = await create({ input: { name: name.trim(), model, messages: messages.map((m) => ({ role: m.role, content: m.content })) } });
    if (r.data) onCreated(r.data.createPrompt.name, r.data.createPrompt.version);
  }

  return (
    <form class="card create-prompt" aria-label={base ? 'New version' : 'New prompt'} onSubmit={(e) => void submit(e)}>
      <h2>{base ? `New version of ${base.name}` : 'New prompt'}</h2>
      <div class="form-row">
        <label>
          Name
          <input value={name} required readOnly={base != null} onInput={(e) => setName(e.currentTarget.value)} placeholder="e.g. support/triage" />
        </label>
        <div class="version-select">
          <label for={`${id}-model`}>Model</label>
          <select id={`${id}-model`} value={model} required onChange={(e) => setModel(e.currentTarget.value)}>
            <option value="" disabled>
              Pick a model
            </option>
            {(models?.models ?? []).map((m) => (
              <option key={m.id} value={m.name}>
                {m.name}
              </option>
            ))}
          </select>
        </div>
      </div>
      <MessageEditor messages={messages} onChange={setMessages} disabled={state.fetching} hint="Write {{name}} where a value goes; each placeholder becomes a variable to fill when the prompt runs." />
      <ErrorNote error={state.error} />
      <div class="run-actions">
        <button type="submit" class="primary" disabled={state.fetching || !model || !name.trim()}>
          {state.fetching ? 'Saving…' : base ? 'Save new version' : 'Create prompt'}
        </button>
        <button type="button" onClick={onCancel} disabled={state.fetching}>
          Cancel
        </button>
      </div>
    </form>
  );
}
