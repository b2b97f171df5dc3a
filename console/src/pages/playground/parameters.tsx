/* Sampling parameters of ChatInput: temperature, top P, max tokens and stop sequences. */
import type { DraftParameters } from './request';

export function ParametersForm({ value, onChange, disabled }: { value: DraftParameters; onChange: (p: DraftParameters) => void; disabled: boolean }) {
  const field = (key: keyof DraftParameters) => ({
    value: value[key],
    onInput: (e: { currentTarget: { value: string } }) => onChange({ ...value, [key]: e.currentTarget.value }),
  });
  return (
    <fieldset class="parameters" disabled={disabled}>
      <legend>Parameters</legend>
      <div class="form-row">
        <label>
          Temperature
          <input type="number" min="0" max="2" step="0.1" placeholder="provider default" {...field('temperature')} />
        </label>
        <label>
          Top P
          <input type="number" min="0" max="1" step="0.05" placeholder="provider default" {...field('topP')} />
        </label>
        <label>
          Max tokens
          <input type="number" min="1" step="1" placeholder="1024" {...field('maxTokens')} />
        </label>
        <label class="stop">
          Stop sequences
          <textarea rows={1} placeholder="one per line" {...field('stop')} />
        </label>
      </div>
    </fieldset>
  );
}
