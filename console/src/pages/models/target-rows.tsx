/* A model's targets in its form: one line each (provider, upstream model id, priority, weight), added and removed freely. */
import { newTarget, type TargetDraft } from './model-draft';

export interface TargetRowsProps {
  targets: TargetDraft[];
  providers: string[];
  onChange(targets: TargetDraft[]): void;
}

export function TargetRows({ targets, providers, onChange }: TargetRowsProps) {
  const change = (i: number, patch: Partial<TargetDraft>) => onChange(targets.map((t, j) => (j === i ? { ...t, ...patch } : t)));
  return (
    <div class="target-rows">
      {targets.map((t, i) => {
        const n = i + 1;
        return (
          <div key={i} class="form-row target-row" role="group" aria-label={`Target ${n}`}>
            <label>
              Provider
              <select required value={t.provider} onChange={(e) => change(i, { provider: e.currentTarget.value })}>
                <option value="" disabled>
                  Pick a provider
                </option>
                {providers.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Upstream model
              <input required placeholder="gpt-4o-mini" value={t.upstreamModel} onInput={(e) => change(i, { upstreamModel: e.currentTarget.value })} />
            </label>
            <label class="narrow">
              Priority
              <input type="number" step="1" value={t.priority} onInput={(e) => change(i, { priority: e.currentTarget.value })} />
            </label>
            <label class="narrow">
              Weight
              <input type="number" min="0" step="1" value={t.weight} onInput={(e) => change(i, { weight: e.currentTarget.value })} />
            </label>
            <button type="button" class="danger" aria-label={`Remove target ${n}`} disabled={targets.length === 1} onClick={() => onChange(targets.filter((_, j) => j !== i))}>
              Remove
            </button>
          </div>
        );
      })}
      <div>
        <button type="button" onClick={() => onChange([...targets, newTarget(providers[0])])}>
          Add target
        </button>
      </div>
    </div>
  );
}
