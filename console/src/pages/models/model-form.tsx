/*
 * The form for a new model and for changing one: description, targets, routing, fallbacks, timeout, prices, context
 * window and lifecycle status. A move to DEPRECATED or RETIRED is confirmed in a dialog saying what callers will see.
 */
import { FormFooter } from '../../components/form-footer';
import { useState } from 'preact/hooks';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { LogBodiesSelect } from '../../components/log-bodies-select';
import { modelDraftProblem, STATUS_EFFECT, STRATEGIES, type ModelDraft, type ModelStatus, type Strategy } from './model-draft';
import { TargetRows } from './target-rows';

export interface ModelFormProps {
  initial: ModelDraft;
  /** True when changing an existing model (its name is fixed) */
  editing: boolean;
  providers: string[];
  busy: boolean;
  error: string | null;
  onSubmit(draft: ModelDraft): void;
  onCancel(): void;
}

const STATUSES: ModelStatus[] = ['ACTIVE', 'DEPRECATED', 'RETIRED'];

export function ModelForm({ initial, editing, providers, busy, error, onSubmit, onCancel }: ModelFormProps) {
  const [d, setD] = useState<ModelDraft>(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const set = (patch: Partial<ModelDraft>) => setD((x) => ({ ...x, ...patch }));
  const demoted = d.status !== initial.status && d.status !== 'ACTIVE';

  function submit(e: Event) {
    e.preventDefault();
    const p = modelDraftProblem(d);
    setProblem(p);
    if (p) return;
    if (demoted) setConfirming(true);
    else onSubmit(d);
  }

  return (
    <form class="stack-form" onSubmit={submit}>
      <div class="form-row">
        <label>
          Model name
          <input name="name" required disabled={editing} placeholder="gpt-4o-mini" value={d.name} onInput={(e) => set({ name: e.currentTarget.value })} />
        </label>
        <label>
          Status
          <select name="status" value={d.status} onChange={(e) => set({ status: e.currentTarget.value as ModelStatus })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Routing strategy
          <select name="strategy" value={d.strategy} onChange={(e) => set({ strategy: e.currentTarget.value as Strategy })}>
            {STRATEGIES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Description
        <textarea name="description" rows={2} value={d.description} onInput={(e) => set({ description: e.currentTarget.value })} />
      </label>
      <div class="checks">
        <label>
          <input type="checkbox" name="requiresApproval" checked={d.requiresApproval} onChange={(e) => set({ requiresApproval: e.currentTarget.checked })} />
          Requires approval: keys other than ADMIN ones may invoke it once their team was granted it (Access page)
        </label>
      </div>
      <fieldset>
        <legend>Targets</legend>
        {providers.length === 0 ? <p class="muted">No providers yet: create one first.</p> : null}
        <TargetRows targets={d.targets} providers={providers} onChange={(targets) => set({ targets })} />
      </fieldset>
      <div class="form-row">
        <label>
          Fallbacks (other models, comma-separated, in order)
          <input name="fallbacks" value={d.fallbacks} onInput={(e) => set({ fallbacks: e.currentTarget.value })} />
        </label>
        <label>
          Timeout per attempt (ms)
          <input name="timeoutMs" type="number" min="1" step="1" placeholder="gateway default" value={d.timeoutMs} onInput={(e) => set({ timeoutMs: e.currentTarget.value })} />
        </label>
      </div>
      <div class="form-row">
        <label>
          Input price (USD / M tokens)
          <input name="inputPrice" type="number" min="0" step="any" value={d.inputPrice} onInput={(e) => set({ inputPrice: e.currentTarget.value })} />
        </label>
        <label>
          Output price (USD / M tokens)
          <input name="outputPrice" type="number" min="0" step="any" value={d.outputPrice} onInput={(e) => set({ outputPrice: e.currentTarget.value })} />
        </label>
        <label>
          Context window (tokens)
          <input name="contextWindow" type="number" min="0" step="1" value={d.contextWindow} onInput={(e) => set({ contextWindow: e.currentTarget.value })} />
        </label>
        <LogBodiesSelect value={d.logBodies} onChange={(logBodies) => set({ logBodies })} />
      </div>
      <FormFooter error={problem ?? error} busy={busy} submitLabel={editing ? 'Save model' : 'Create model'} onCancel={onCancel} />
      <ConfirmDialog
        open={confirming}
        title={`Set ${d.name || 'the model'} to ${d.status}?`}
        confirmLabel={`Set ${d.status}`}
        danger={d.status === 'RETIRED'}
        busy={busy}
        onConfirm={() => {
          setConfirming(false);
          onSubmit(d);
        }}
        onCancel={() => setConfirming(false)}
      >
        <p>{STATUS_EFFECT[d.status]}</p>
      </ConfirmDialog>
    </form>
  );
}
