/* The call list's filters in its address (?model=…&search=…), and a call's own address. */
import { filterFromQuery, filterUrl } from '../filter-url';
import { BASE } from '../nav';
import type { CallFilter } from './documents';

const FIELDS = ['apiKeyId', 'model', 'status', 'from', 'to', 'search'] as const satisfies readonly (keyof CallFilter)[];

export const callFilterFromQuery = (query: Record<string, string>) => filterFromQuery<CallFilter>(FIELDS, query);
export const callsUrl = (filter: CallFilter) => filterUrl(`${BASE}/calls`, FIELDS, filter);
export const callUrl = (id: string) => `${BASE}/calls/${encodeURIComponent(id)}`;
