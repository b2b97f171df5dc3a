/* The explorer's filters in its address (?model=…&status=…). */
import { filterFromQuery, filterUrl } from '../filter-url';
import { BASE } from '../nav';
import type { UsageFilterInput } from './usage-filters';

const FIELDS = ['model', 'provider', 'apiKeyId', 'status', 'from', 'to'] as const satisfies readonly (keyof UsageFilterInput)[];

export const usageFilterFromQuery = (query: Record<string, string>) => filterFromQuery<UsageFilterInput>(FIELDS, query);
export const usageUrl = (filter: UsageFilterInput) => filterUrl(`${BASE}/usage`, FIELDS, filter);
