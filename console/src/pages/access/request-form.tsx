/* A TEAM_ADMIN's request for a model that requires approval: the model, and why the team needs it. */
import { useMutation, useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { errorText } from '../../components/error-note';
import { readFragment } from '../../graphql';
import { AccessRequestFields, ApprovalModelsQuery, RequestAccessMutation } from './documents';

export function RequestForm() {
  const [modelsRes] = useQuery({ query: ApprovalModelsQuery });
  const [sent, send] = useMutation(RequestAccessMutation);
  const [model, setModel] = useState('');
  const [reason, setReason] = useState('');
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const choices = (modelsRes.data?.models ?? []).filter((m) => m.requiresApproval);
  const chosen = model || choices[0]?.name || '';

  async function submit(e: Event) {
    e.preventDefault();
    setNote(null);
    const r = await send({ input: { model: chosen, reason: reason.trim() } });
    if (r.error || !r.data) return setNote({ ok: false, text: errorText(r.error ?? 'The gateway did not answer.') });
    const made = readFragment(AccessRequestFields, r.data.requestModelAccess);
    setReason('');
    setNote({ ok: true, text: `Access to ${made.model} requested: ${made.status.toLowerCase()}.` });
  }

  if (modelsRes.data && choices.length === 0) return <p class="muted">No model requires approval: every model this team may use works without asking.</p>;
  return (
    <form class="stack-form card access-form" aria-label="Request access" onSubmit={submit}>
      <div class="form-row">
        <label>
          Model
          <select name="model" aria-label="Model" value={chosen} onChange={(e) => setModel(e.currentTarget.value)}>
            {choices.map((m) => (
              <option key={m.name} value={m.name}>
                {m.name}
                {m.access ? ` (${m.access.toLowerCase()})` : ''}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Reason
        <textarea name="reason" required rows={3} maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      {note ? (
        <p class={note.ok ? 'muted' : 'error-note'} role={note.ok ? 'status' : 'alert'}>
          {note.text}
        </p>
      ) : null}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={sent.fetching || !chosen}>
          {sent.fetching ? 'Sending…' : 'Request access'}
        </button>
      </div>
    </form>
  );
}
