/*
 * The call log level of a key, team or model. '' is "not set": the other two decide. The level a call is logged
 * at is the lowest one set on its key, the key's team and the model; none set, it is not logged.
 */
import type { ResultOf } from '../graphql';
import type { CallDetailsQuery } from '../calls/documents';

export type LogBodies = NonNullable<ResultOf<typeof CallDetailsQuery>['invocation']>['level'];
export type LogBodiesChoice = LogBodies | '';

const CHOICES: Array<{ value: LogBodiesChoice; label: string }> = [
  { value: '', label: 'Not set' },
  { value: 'NONE', label: 'NONE: not logged' },
  { value: 'METADATA', label: 'METADATA: ids, parameters, attempts' },
  { value: 'FULL', label: 'FULL: also messages and answers' },
];

/** The API's value as the select holds it */
export const logBodiesChoice = (v: LogBodies | null | undefined): LogBodiesChoice => v ?? '';

/** The select's value as the API takes it: null clears it */
export const logBodiesInput = (v: LogBodiesChoice): LogBodies | null => (v === '' ? null : v);

export function LogBodiesSelect({ value, onChange }: { value: LogBodiesChoice; onChange(v: LogBodiesChoice): void }) {
  return (
    <label title="A call is logged at the lowest level set on its key, the key's team and the model; none set: not logged">
      Call log
      <select name="logBodies" value={value} onChange={(e) => onChange(e.currentTarget.value as LogBodiesChoice)}>
        {CHOICES.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label}
          </option>
        ))}
      </select>
    </label>
  );
}
