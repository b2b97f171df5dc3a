/*
 * The explorer's filters: model, provider, key (ADMIN), status and a from–to window. The choices come from the
 * caller's own usage (usageSummary), so a key is offered only what it may read.
 */
import { useQuery } from '@urql/preact';
import { graphql, type VariablesOf } from '../graphql';
import { KeyField, StatusAndWindowFields } from '../components/usage-filter-fields';
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

export function UsageFilters({ value, onChange, admin }: { value: UsageFilterInput; onChange(filter: UsageFilterInput): void; admin: boolean }) {
  const [choices] = useQuery({ query: FilterChoicesQuery, variables: { admin } });
  const models = (choices.data?.models ?? []).map((b) => b.key);
  const providers = (choices.data?.providers ?? []).map((b) => b.key).filter(Boolean);
  const set = (field: keyof UsageFilterInput) => (e: Event) => onChange({ ...value, [field]: (e.currentTarget as HTMLInputElement).value || undefined });

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
      {admin ? <KeyField keys={choices.data?.apiKeys ?? []} value={value} onChange={onChange} /> : null}
      <StatusAndWindowFields value={value} onChange={onChange} />
    </div>
  );
}
