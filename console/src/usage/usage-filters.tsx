/*
 * The explorer's filters: model, provider, key (ADMIN), status and a from–to window. The choices come from the
 * caller's own usage (usageSummary), so a key is offered only what it may read.
 */
import { useQuery } from '@urql/preact';
import { graphql, type VariablesOf } from '../graphql';
import { USAGE_STATUSES } from './record';
import type { UsagePageQuery } from './usage-query';

export type UsageFilterInput = NonNullable<VariablesOf<typeof UsagePageQuery>['filter']>;

export const FilterChoicesQuery = graphql(`
  query ConsoleUsageFilterChoices($admin: Boolean!) {
    models: usageSummary(groupBy: MODEL) {
      key
    }
    providers: usageSummary(groupBy: PROVIDER) {
      key
    }
    apiKeys @include(if: $admin) {
      id
      name
    }
  }
`);

/** A datetime-local value (the browser's time zone) as an ISO instant, or undefined when empty */
export const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);
export const toLocal = (iso: string | null | undefined) => {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

export function UsageFilters({ value, onChange, admin }: { value: UsageFilterInput; onChange(filter: UsageFilterInput): void; admin: boolean }) {
  const [choices] = useQuery({ query: FilterChoicesQuery, variables: { admin } });
  const models = (choices.data?.models ?? []).map((b) => b.key);
  const providers = (choices.data?.providers ?? []).map((b) => b.key).filter(Boolean);
  const set = (field: keyof UsageFilterInput, read: (v: string) => unknown = (v) => v || undefined) => (e: Event) =>
    onChange({ ...value, [field]: read((e.currentTarget as HTMLInputElement).value) });

  return (
    <div class="form-row usage-filters">
      <label>
        Model
        <select value={value.model ?? ''} onChange={set('model')}>
          <option value="">All models</option>
          {models.map((m) => (
            <option key={m}>{m}</option>
          ))}
        </select>
      </label>
      <label>
        Provider
        <select value={value.provider ?? ''} onChange={set('provider')}>
          <option value="">All providers</option>
          {providers.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </label>
      {admin ? (
        <label>
          Key
          <select value={value.apiKeyId ?? ''} onChange={set('apiKeyId')}>
            <option value="">All keys</option>
            {(choices.data?.apiKeys ?? []).map((k) => (
              <option key={k.id} value={k.id}>
                {k.name}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <label>
        Status
        <select value={value.status ?? ''} onChange={set('status')}>
          <option value="">All statuses</option>
          {USAGE_STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        From
        <input type="datetime-local" value={toLocal(value.from)} onChange={set('from', toIso)} />
      </label>
      <label>
        To
        <input type="datetime-local" value={toLocal(value.to)} onChange={set('to', toIso)} />
      </label>
    </div>
  );
}
