/* The explorer's filters in its address (?model=…&status=…), so a filtered view can be linked to and shared. */
import { BASE } from '../nav';
import type { UsageFilterInput } from './usage-filters';

const FIELDS = ['model', 'provider', 'apiKeyId', 'status', 'from', 'to'] as const;

export function filterFromQuery(query: Record<string, string>): UsageFilterInput {
  const filter: Record<string, string> = {};
  for (const field of FIELDS) if (query[field]) filter[field] = query[field];
  // an address is typed or pasted by people: a time that is not one is left out, not sent (or drawn) as one
  for (const field of ['from', 'to'] as const) if (filter[field] && Number.isNaN(Date.parse(filter[field]))) delete filter[field];
  return filter as UsageFilterInput;
}

export function usageUrl(filter: UsageFilterInput): string {
  const params = new URLSearchParams();
  for (const field of FIELDS) {
    const value = filter[field];
    if (value) params.set(field, String(value));
  }
  const search = params.toString();
  return `${BASE}/usage${search ? `?${search}` : ''}`;
}
