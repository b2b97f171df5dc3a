/* The form for a new team and for changing one: name, description, shared limits and the models its keys may invoke. */
import { useState } from 'preact/hooks';
import { FormFooter } from '../../components/form-footer';
import { LogBodiesSelect } from '../../components/log-bodies-select';
import { teamDraftProblem, type TeamDraft } from './team-draft';

export interface TeamFormProps {
  initial: TeamDraft;
  /** Public model names to pick from */
  models: Array<{ name: string; status: string }>;
  submitLabel: string;
  busy: boolean;
  error: string | null;
  onSubmit(draft: TeamDraft): void;
  onCancel(): void;
}

const LIMITS: Array<{ field: 'requestsPerMinute' | 'tokensPerDay' | 'monthlyBudgetUsd'; label: string; step: string }> = [
  { field: 'requestsPerMinute', label: 'Requests a minute', step: '1' },
  { field: 'tokensPerDay', label: 'Tokens a day', step: '1' },
  { field: 'monthlyBudgetUsd', label: 'Monthly budget (USD)', step: '0.01' },
];

const toggle = (list: string[], item: string, on: boolean): string[] => (on ? [...list.filter((x) => x !== item), item] : list.filter((x) => x !== item));

export function TeamForm({ initial, models, submitLabel, busy, error, onSubmit, onCancel }: TeamFormProps) {
  const [d, setD] = useState<TeamDraft>(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const set = (patch: Partial<TeamDraft>) => setD((x) => ({ ...x, ...patch }));
  // a model already allowed but since deleted stays pickable, so saving does not drop it silently
  const names = [...new Set([...models.map((m) => m.name), ...d.models])];

  return (
    <form
      class="stack-form team-form"
      onSubmit={(e) => {
        e.preventDefault();
        const p = teamDraftProblem(d);
        setProblem(p);
        if (!p) onSubmit(d);
      }}
    >
      <div class="form-row">
        <label>
          Name
          <input name="name" required maxLength={200} value={d.name} onInput={(e) => set({ name: e.currentTarget.value })} />
        </label>
        <LogBodiesSelect value={d.logBodies} onChange={(logBodies) => set({ logBodies })} />
      </div>
      <label>
        Description (optional)
        <textarea name="description" rows={2} maxLength={2000} value={d.description} onInput={(e) => set({ description: e.currentTarget.value })} />
      </label>
      <fieldset>
        <legend>Limits shared by all its keys (empty: no limit)</legend>
        <div class="form-row">
          {LIMITS.map(({ field, label, step }) => (
            <label key={field}>
              {label}
              <input type="number" min="0" step={step} inputMode="decimal" name={field} value={d[field]} onInput={(e) => set({ [field]: e.currentTarget.value })} />
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Models its keys may invoke</legend>
        <div class="checks">
          <label>
            <input type="checkbox" checked={d.allModels} onChange={(e) => set({ allModels: e.currentTarget.checked })} />
            All models, including ones added later
          </label>
        </div>
        {d.allModels ? null : (
          <div class="checks model-picks">
            {names.length === 0 ? <span class="muted">No models yet: add one on the Models page.</span> : null}
            {names.map((name) => (
              <label key={name}>
                <input type="checkbox" checked={d.models.includes(name)} onChange={(e) => set({ models: toggle(d.models, name, e.currentTarget.checked) })} />
                <span class="mono">{name}</span>
              </label>
            ))}
          </div>
        )}
      </fieldset>
      <FormFooter error={problem ?? error} busy={busy} submitLabel={submitLabel} onCancel={onCancel} />
    </form>
  );
}
