/* The call list's filters in its address (?model=…&search=…), so a filtered view can be linked to and shared. */
import { BASE } from '../nav';
import type { CallFilter } from './documents';

const FIELDS = ['apiKeyId', 'model', 'status', 'from', 'to', 'search'] as const;

export function callFilterFromQuery(query: Record<string, string>): CallFilter {
  const filter: Record<string, string> = {};
  for (const field of FIELDS) if (query[field]?.trim()) filter[field] = query[field];
  // a typed or pasted address may hold a time that is not one: left out, not sent
  for (const field of ['from', 'to'] as const) if (filter[field] && Number.isNaN(Date.parse(filter[field]))) delete filter[field];
  return filter as CallFilter;
}

export function callsUrl(filter: CallFilter): string {
  const params = new URLSearchParams();
  for (const field of FIELDS) {
    const value = filter[field];
    if (value) params.set(field, String(value));
  }
  const search = params.toString();
  return `${BASE}/calls${search ? `?${search}` : ''}`;
}

export const callUrl = (id: string) => `${BASE}/calls/${encodeURIComponent(id)}`;
