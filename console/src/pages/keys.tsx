/*
 * Keys (ADMIN): every key with its limits and how much of them it uses now (refreshed every few seconds), and the
 * changes: create, edit, rotate and revoke. A secret is shown once, when the gateway returns it, and kept nowhere.
 */
import { useMutation, useQuery } from '@urql/preact';
import { useEffect, useState } from 'preact/hooks';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorNote, errorText } from '../components/error-note';
import '../components/admin.css';
import { Modal } from '../components/modal';
import { Page } from '../components/page';
import { readFragment } from '../graphql';
import { CreateKeyMutation, KeyRowFields, KeysQuery, RevokeKeyMutation, RotateKeyMutation, UpdateKeyMutation } from './keys/documents';
import { draftFromKey, EMPTY_DRAFT, toCreateInput, toUpdateInput, type KeyDraft, type KeyRow } from './keys/key-draft';
import { KeyForm } from './keys/key-form';
import { KeysTable, type KeyAction } from './keys/keys-table';
import { SecretNotice, type SecretNoticeProps } from './keys/secret-notice';
import { useSecretMutation } from './keys/use-secret-mutation';
import './keys.css';

/** How often the usage bars are refreshed while the page is open */
const REFRESH_MS = 3000;

type Shown = Omit<SecretNoticeProps, 'onDismiss'>;

function useRefreshedKeys() {
  const [res, reexecute] = useQuery({ query: KeysQuery });
  useEffect(() => {
    const timer = setInterval(() => reexecute({ requestPolicy: 'network-only' }), REFRESH_MS);
    return () => clearInterval(timer);
  }, [reexecute]);
  const keys = readFragment(KeyRowFields, res.data?.apiKeys ?? []);
  return { keys: [...keys], models: res.data?.models ?? [], teams: res.data?.teams ?? [], loading: !res.data && res.fetching, error: res.error };
}

export function KeysPage() {
  const { keys, models, teams, loading, error } = useRefreshedKeys();
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<Shown | null>(null);
  const [editing, setEditing] = useState<KeyRow | null>(null);
  const [confirming, setConfirming] = useState<{ action: 'rotate' | 'revoke'; key: KeyRow } | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [savingNew, create] = useSecretMutation(CreateKeyMutation);
  const [updated, update] = useMutation(UpdateKeyMutation);
  const [rotating, rotate] = useSecretMutation(RotateKeyMutation);
  const [revoked, revoke] = useMutation(RevokeKeyMutation);

  async function submitNew(d: KeyDraft) {
    setActionError(null);
    const r = await create({ input: toCreateInput(d) });
    if (r.error || !r.data) return setActionError(errorText(r.error ?? 'The gateway did not answer.'));
    setCreating(false);
    setShown({ keyName: readFragment(KeyRowFields, r.data.createApiKey.apiKey).name, secret: r.data.createApiKey.secret, event: 'created' });
  }

  async function submitEdit(d: KeyDraft) {
    if (!editing) return;
    setActionError(null);
    const r = await update({ id: editing.id, input: toUpdateInput(d, draftFromKey(editing)) });
    if (r.error) return setActionError(errorText(r.error));
    setEditing(null);
  }

  async function confirm() {
    if (!confirming) return;
    setActionError(null);
    const { action, key } = confirming;
    if (action === 'revoke') {
      const r = await revoke({ id: key.id });
      if (r.error) return setActionError(errorText(r.error));
    } else {
      const r = await rotate({ id: key.id });
      if (r.error || !r.data) return setActionError(errorText(r.error ?? 'The gateway did not answer.'));
      setShown({ keyName: key.name, secret: r.data.rotateApiKey.secret, event: 'rotated' });
    }
    setConfirming(null);
  }

  function onAction(action: KeyAction, key: KeyRow) {
    setActionError(null);
    if (action === 'edit') setEditing(key);
    else setConfirming({ action, key });
  }

  return (
    <Page
      title="Keys"
      actions={
        creating ? null : (
          <button type="button" class="primary" onClick={() => (setActionError(null), setCreating(true), setShown(null))}>
            New key
          </button>
        )
      }
    >
      {shown ? <SecretNotice {...shown} onDismiss={() => setShown(null)} /> : null}
      {creating ? (
        <section class="card" aria-label="New key">
          <h2>New key</h2>
          <KeyForm initial={EMPTY_DRAFT} models={models} teams={teams} submitLabel="Create key" busy={savingNew} error={actionError} onSubmit={submitNew} onCancel={() => setCreating(false)} />
        </section>
      ) : null}
      <ErrorNote error={error} />
      {loading ? <p class="muted">Loading keys…</p> : null}
      {!loading && !error && keys.length === 0 ? <p class="muted">No keys yet. Create one with “New key”.</p> : null}
      {keys.length > 0 ? <KeysTable keys={keys} onAction={onAction} /> : null}

      <Modal open={editing != null} title={`Edit key “${editing?.name ?? ''}”`} onClose={() => setEditing(null)} busy={updated.fetching} wide>
        {editing ? (
          <KeyForm initial={draftFromKey(editing)} models={models} teams={teams} submitLabel="Save changes" busy={updated.fetching} error={actionError} onSubmit={submitEdit} onCancel={() => setEditing(null)} />
        ) : null}
      </Modal>
      <ConfirmDialog
        open={confirming != null}
        title={confirming?.action === 'rotate' ? `Rotate key “${confirming.key.name}”?` : `Revoke key “${confirming?.key.name ?? ''}”?`}
        confirmLabel={confirming?.action === 'rotate' ? 'Rotate key' : 'Revoke key'}
        danger
        busy={rotating || revoked.fetching}
        error={actionError}
        onConfirm={confirm}
        onCancel={() => setConfirming(null)}
      >
        {confirming?.action === 'rotate' ? (
          <p>The current secret stops working on every gateway instance within 5 seconds. A new secret is shown once; clients must switch to it.</p>
        ) : (
          <p>The key stops working on every gateway instance within 5 seconds, and it cannot be turned back on. Its usage records stay.</p>
        )}
      </ConfirmDialog>
    </Page>
  );
}
