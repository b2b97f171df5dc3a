/* The form for a new key and for changing one: name, scopes, limits, allowed models and expiry. */
import { FormFooter } from '../../components/form-footer';
import { useState } from 'preact/hooks';
import { LogBodiesSelect } from '../../components/log-bodies-select';
import { draftProblem, SCOPES, type KeyDraft } from './key-draft';

export interface KeyFormProps {
  initial: KeyDraft;
  /** Public model names to pick from */
  models: Array<{ name: string; status: string }>;
  /** Teams a key may be put in */
  teams: Array<{ id: string; name: string }>;
  submitLabel: string;
  busy: boolean;
  error: string | null;
  onSubmit(draft: KeyDraft): void;
  onCancel(): void;
}

const LIMITS: Array<{ field: 'requestsPerMinute' | 'tokensPerMinute' | 'tokensPerDay' | 'monthlyBudgetUsd'; label: string; step: string }> = [
  { field: 'requestsPerMinute', label: 'Requests a minute', step: '1' },
  { field: 'tokensPerMinute', label: 'Tokens a minute', step: '1' },
  { field: 'tokensPerDay', label: 'Tokens a day', step: '1' },
  { field: 'monthlyBudgetUsd', label: 'Monthly budget (USD)', step: '0.01' },
];

const toggle = <T,>(list: T[], item: T, on: boolean): T[] => (on ? [...list.filter((x) => x !== item), item] : list.filter((x) => x !== item));

export function KeyForm({ initial, models, teams, submitLabel, busy, error, onSubmit, onCancel }: KeyFormProps) {
  const [d, setD] = useState<KeyDraft>(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const set = (patch: Partial<KeyDraft>) => setD((x) => ({ ...x, ...patch }));
  // a model already allowed but since deleted stays pickable, so saving does not drop it silently
  const names = [...new Set([...models.map((m) => m.name), ...d.models])];
  const status = new Map(models.map((m) => [m.name, m.status]));

  return (
    <form
      class="stack-form key-form"
      onSubmit={(e) => {
        e.preventDefault();
        const p = draftProblem(d);
        setProblem(p);
        if (!p) onSubmit(d);
      }}
    >
      <div class="form-row">
        <label>
          Name
          <input name="name" required maxLength={200} value={d.name} onInput={(e) => set({ name: e.currentTarget.value })} />
        </label>
        <label>
          Expires on (UTC, optional)
          <input type="date" name="expiresOn" value={d.expiresOn} onInput={(e) => set({ expiresOn: e.currentTarget.value })} />
        </label>
        <label>
          Team
          <select name="team" aria-label="Team" value={d.team} onChange={(e) => set({ team: e.currentTarget.value })}>
            <option value="">No team</option>
            {teams.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <LogBodiesSelect value={d.logBodies} onChange={(logBodies) => set({ logBodies })} />
      </div>
      <fieldset>
        <legend>Scopes</legend>
        <div class="checks">
          {SCOPES.map(({ scope, hint }) => (
            <label key={scope}>
              <input type="checkbox" checked={d.scopes.includes(scope)} onChange={(e) => set({ scopes: toggle(d.scopes, scope, e.currentTarget.checked) })} />
              {scope} <span class="muted small">({hint})</span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Limits (empty: no limit)</legend>
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
        <legend>Models it may invoke</legend>
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
                {status.get(name) && status.get(name) !== 'ACTIVE' ? <span class="muted small">({status.get(name)?.toLowerCase()})</span> : null}
              </label>
            ))}
          </div>
        )}
      </fieldset>
      <FormFooter error={problem ?? error} busy={busy} submitLabel={submitLabel} onCancel={onCancel} />
    </form>
  );
}
