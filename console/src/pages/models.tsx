/*
 * Providers and models (ADMIN): the providers with their write-only credentials, and the models with their targets'
 * live health (refreshed every few seconds); create, edit and delete both, with the gateway's own message when a
 * change is refused (a provider a model still routes to cannot be deleted).
 */
import { useMutation, useQuery } from '@urql/preact';
import { useEffect, useState } from 'preact/hooks';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorNote, errorText } from '../components/error-note';
import '../components/admin.css';
import { Modal } from '../components/modal';
import { Page } from '../components/page';
import { readFragment } from '../graphql';
import {
  CatalogueQuery,
  CreateModelMutation,
  CreateProviderMutation,
  DeleteModelMutation,
  DeleteProviderMutation,
  ModelFields,
  ProviderFields,
  UpdateModelMutation,
  UpdateProviderMutation,
} from './models/documents';
import { draftFromModel, emptyModelDraft, toCreateModelInput, toUpdateModelInput, type ModelDraft, type ModelRow } from './models/model-draft';
import { ModelForm } from './models/model-form';
import { ModelsTable } from './models/models-table';
import { ProviderForm, toCreateProviderInput, toUpdateProviderInput, type ProviderRow } from './models/provider-form';
import { ProvidersTable } from './models/providers-table';
import './models.css';

/** How often targets' health is refreshed while the page is open */
const REFRESH_MS = 3000;

type Editing<T> = { item?: T } | null;
type Deleting = { kind: 'provider' | 'model'; name: string } | null;

function useRefreshedCatalogue() {
  const [res, reexecute] = useQuery({ query: CatalogueQuery });
  useEffect(() => {
    const timer = setInterval(() => reexecute({ requestPolicy: 'network-only' }), REFRESH_MS);
    return () => clearInterval(timer);
  }, [reexecute]);
  return {
    providers: [...readFragment(ProviderFields, res.data?.providers ?? [])],
    models: [...readFragment(ModelFields, res.data?.models ?? [])],
    loaded: res.data != null,
    error: res.error,
    refresh: () => reexecute({ requestPolicy: 'network-only' }),
  };
}

export function ModelsPage() {
  const { providers, models, loaded, error, refresh } = useRefreshedCatalogue();
  const [providerEdit, setProviderEdit] = useState<Editing<ProviderRow>>(null);
  const [modelEdit, setModelEdit] = useState<Editing<ModelRow>>(null);
  const [deleting, setDeleting] = useState<Deleting>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [providerSaved, createProvider] = useMutation(CreateProviderMutation);
  const [providerUpdated, updateProvider] = useMutation(UpdateProviderMutation);
  const [modelSaved, createModel] = useMutation(CreateModelMutation);
  const [modelUpdated, updateModel] = useMutation(UpdateModelMutation);
  const [providerDeleted, deleteProvider] = useMutation(DeleteProviderMutation);
  const [modelDeleted, deleteModel] = useMutation(DeleteModelMutation);
  const providerNames = providers.map((p) => p.name);

  function startEditing<T>(set: (e: Editing<T>) => void, item?: T) {
    setActionError(null);
    set({ item });
  }

  async function saveProvider(d: Parameters<typeof toCreateProviderInput>[0]) {
    const p = providerEdit?.item;
    const r = p ? await updateProvider({ name: p.name, input: toUpdateProviderInput(d) }) : await createProvider({ input: toCreateProviderInput(d) });
    if (r.error) return setActionError(errorText(r.error));
    setProviderEdit(null);
  }

  async function saveModel(d: ModelDraft) {
    const m = modelEdit?.item;
    const r = m ? await updateModel({ name: m.name, input: toUpdateModelInput(d) }) : await createModel({ input: toCreateModelInput(d) });
    if (r.error) return setActionError(errorText(r.error));
    setModelEdit(null);
  }

  async function confirmDelete() {
    if (!deleting) return;
    const r = deleting.kind === 'provider' ? await deleteProvider({ name: deleting.name }) : await deleteModel({ name: deleting.name });
    if (r.error) return setActionError(errorText(r.error));
    setDeleting(null);
    refresh();
  }

  return (
    <Page title="Providers and models">
      <ErrorNote error={error} />
      <section class="catalogue-section" aria-label="Providers">
        <header class="section-header">
          <h2>Providers</h2>
          <button type="button" class="primary" onClick={() => startEditing(setProviderEdit)}>
            New provider
          </button>
        </header>
        {loaded && providers.length === 0 ? <p class="muted">No providers. Add one (an OpenAI-compatible server needs only its base URL) before adding models.</p> : null}
        {providers.length ? <ProvidersTable providers={providers} onEdit={(p) => startEditing(setProviderEdit, p)} onDelete={(p) => (setActionError(null), setDeleting({ kind: 'provider', name: p.name }))} /> : null}
      </section>
      <section class="catalogue-section" aria-label="Models">
        <header class="section-header">
          <h2>Models</h2>
          <button type="button" class="primary" disabled={!loaded} onClick={() => startEditing(setModelEdit)}>
            New model
          </button>
        </header>
        {loaded && models.length === 0 ? <p class="muted">No models. Create one: a public name routed to one or more provider models.</p> : null}
        {models.length ? <ModelsTable models={models} onEdit={(m) => startEditing(setModelEdit, m)} onDelete={(m) => (setActionError(null), setDeleting({ kind: 'model', name: m.name }))} /> : null}
      </section>

      <Modal open={providerEdit != null} title={providerEdit?.item ? `Edit provider ${providerEdit.item.name}` : 'New provider'} onClose={() => setProviderEdit(null)} busy={providerSaved.fetching || providerUpdated.fetching}>
        {providerEdit ? (
          <ProviderForm provider={providerEdit.item} busy={providerSaved.fetching || providerUpdated.fetching} error={actionError} onSubmit={saveProvider} onCancel={() => setProviderEdit(null)} />
        ) : null}
      </Modal>
      <Modal open={modelEdit != null} title={modelEdit?.item ? `Edit model ${modelEdit.item.name}` : 'New model'} onClose={() => setModelEdit(null)} busy={modelSaved.fetching || modelUpdated.fetching} wide>
        {modelEdit ? (
          <ModelForm
            initial={modelEdit.item ? draftFromModel(modelEdit.item) : emptyModelDraft(providerNames[0] ?? '')}
            editing={modelEdit.item != null}
            providers={providerNames}
            busy={modelSaved.fetching || modelUpdated.fetching}
            error={actionError}
            onSubmit={saveModel}
            onCancel={() => setModelEdit(null)}
          />
        ) : null}
      </Modal>
      <ConfirmDialog
        open={deleting != null}
        title={`Delete ${deleting?.kind ?? ''} ${deleting?.name ?? ''}?`}
        confirmLabel="Delete"
        danger
        busy={providerDeleted.fetching || modelDeleted.fetching}
        error={actionError}
        onConfirm={confirmDelete}
        onCancel={() => setDeleting(null)}
      >
        {deleting?.kind === 'model' ? (
          <p>Calls to this model name fail with MODEL_NOT_FOUND from now on. Its usage records stay.</p>
        ) : (
          <p>The provider and its stored credential are removed. The gateway refuses while a model still routes to it.</p>
        )}
      </ConfirmDialog>
    </Page>
  );
}
