/*
 * The call list's filters: key (ADMIN), model, status, a from–to window, and a text search over FULL calls'
 * messages and answers (sent when submitted, not at every keystroke). Choices come from the caller's own usage.
 */
import { useQuery } from '@urql/preact';
import { useEffect, useState } from 'preact/hooks';
import { KeyField, StatusAndWindowFields } from '../components/usage-filter-fields';
import { FilterChoicesQuery } from '../usage/usage-filters';
import type { CallFilter } from './documents';

export interface CallFiltersProps {
  value: CallFilter;
  onChange(filter: CallFilter): void;
  admin: boolean;
  /** The key may read usage summaries, where the model choices come from; else the model is typed */
  readUsage: boolean;
}

export function CallFilters({ value, onChange, admin, readUsage }: CallFiltersProps) {
  const [choices] = useQuery({ query: FilterChoicesQuery, variables: { admin }, pause: !readUsage });
  const models = (choices.data?.models ?? []).map((b) => b.key);
  const [search, setSearch] = useState(value.search ?? '');
  useEffect(() => setSearch(value.search ?? ''), [value.search]);
  const set = (field: keyof CallFilter) => (e: Event) => onChange({ ...value, [field]: (e.currentTarget as HTMLInputElement).value || undefined });

  return (
    <div class="call-filters">
      <form
        class="call-search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          onChange({ ...value, search: search.trim() || undefined });
        }}
      >
        <input
          type="search"
          aria-label="Search messages and answers"
          placeholder="Search the messages and answers of FULL calls (words, &quot;a phrase&quot;, -not)"
          maxLength={500}
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        <button type="submit" class="primary">
          Search
        </button>
        {value.search ? (
          <button type="button" onClick={() => onChange({ ...value, search: undefined })}>
            Clear
          </button>
        ) : null}
      </form>
      <div class="form-row usage-filters">
        {admin ? <KeyField keys={choices.data?.apiKeys ?? []} value={value} onChange={onChange} /> : null}
        <label>
          Model
          {readUsage ? (
            <select value={value.model ?? ''} onChange={set('model')}>
              <option value="">All models</option>
              {models.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          ) : (
            <input value={value.model ?? ''} placeholder="All models" onChange={set('model')} />
          )}
        </label>
        <StatusAndWindowFields value={value} onChange={onChange} />
      </div>
    </div>
  );
}
