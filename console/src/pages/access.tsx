/*
 * Access: models that require approval. ADMIN sees every team's requests and approves or rejects them (with a note);
 * a TEAM_ADMIN asks for a model and follows its team's requests. Both lists, and the budget alerts below them, follow
 * the gateway's feeds (graphql-ws), so requests and decisions appear without a reload.
 */
import { useMutation } from '@urql/preact';
import { useState } from 'preact/hooks';
import { ErrorNote, errorText } from '../components/error-note';
import '../components/admin.css';
import { Modal } from '../components/modal';
import { Page } from '../components/page';
import { readFragment } from '../graphql';
import { useSession } from '../session';
import { BudgetAlerts } from './access/budget-alerts';
import { AccessRequestFields, AccessRequestsQuery, AccessRequestsSubscription, ApproveAccessMutation, RejectAccessMutation } from './access/documents';
import { RequestForm } from './access/request-form';
import { RequestsTable, type AccessRequest, type Decision } from './access/requests-table';
import { useLiveList } from './access/use-live-list';
import './models.css';
import './access.css';

function DecisionForm({ decision, busy, error, onSubmit, onCancel }: { decision: Decision; busy: boolean; error: string | null; onSubmit(note: string): void; onCancel(): void }) {
  const [note, setNote] = useState('');
  return (
    <form
      class="stack-form"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(note.trim());
      }}
    >
      <label>
        Note for the team (optional)
        <textarea name="note" rows={3} maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </label>
      {error ? (
        <p class="error-note" role="alert">
          {error}
        </p>
      ) : null}
      <div class="form-actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" class={decision === 'approve' ? 'primary' : 'danger-solid'} disabled={busy}>
          {busy ? 'Working…' : decision === 'approve' ? 'Approve' : 'Reject'}
        </button>
      </div>
    </form>
  );
}

export function AccessPage() {
  const admin = useSession().can('ADMIN');
  const { items, loaded, error } = useLiveList(
    AccessRequestsQuery,
    AccessRequestsSubscription,
    (d) => readFragment(AccessRequestFields, d.modelAccessRequests),
    (d) => readFragment(AccessRequestFields, d.modelAccessRequests),
    (a, b) => b.updatedAt.localeCompare(a.updatedAt),
  );
  const [deciding, setDeciding] = useState<{ decision: Decision; request: AccessRequest } | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [approved, approve] = useMutation(ApproveAccessMutation);
  const [rejected, reject] = useMutation(RejectAccessMutation);

  async function decide(note: string) {
    if (!deciding) return;
    setActionError(null);
    const vars = { id: deciding.request.id, note: note || null };
    const r = deciding.decision === 'approve' ? await approve(vars) : await reject(vars);
    if (r.error) return setActionError(errorText(r.error));
    setDeciding(null);
  }

  return (
    <Page title="Model access">
      {admin ? null : (
        <section class="catalogue-section" aria-label="Ask for a model">
          <header class="section-header">
            <h2>Ask for a model</h2>
          </header>
          <RequestForm />
        </section>
      )}
      <section class="catalogue-section" aria-label="Access requests">
        <header class="section-header">
          <h2>{admin ? 'Requests from teams' : 'Your team’s requests'}</h2>
        </header>
        <ErrorNote error={error} />
        {loaded && items.length === 0 ? <p class="muted">No requests yet.</p> : null}
        {items.length ? <RequestsTable requests={items} onDecide={admin ? (decision, request) => (setActionError(null), setDeciding({ decision, request })) : undefined} /> : null}
      </section>
      <BudgetAlerts />

      <Modal
        open={deciding != null}
        title={deciding ? `${deciding.decision === 'approve' ? 'Approve' : 'Reject'} ${deciding.request.model} for ${deciding.request.team.name}?` : ''}
        onClose={() => setDeciding(null)}
        busy={approved.fetching || rejected.fetching}
      >
        {deciding ? (
          <>
            <p class="dialog-text reason">“{deciding.request.reason}”</p>
            <DecisionForm key={`${deciding.request.id}-${deciding.decision}`} decision={deciding.decision} busy={approved.fetching || rejected.fetching} error={actionError} onSubmit={decide} onCancel={() => setDeciding(null)} />
          </>
        ) : null}
      </Modal>
    </Page>
  );
}
