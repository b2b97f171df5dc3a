/* A page's filters in its address (?model=…&status=…), so a filtered view can be linked to and shared. */

/** The filter an address holds: the listed fields that are not blank */
export function filterFromQuery<F>(fields: readonly (keyof F & string)[], query: Record<string, string>): F {
  const filter: Record<string, string> = {};
  for (const field of fields) if (query[field]?.trim()) filter[field] = query[field];
  // an address is typed or pasted by people: a time that is not one is left out, not sent (or drawn) as one
  for (const field of ['from', 'to']) if (filter[field] && Number.isNaN(Date.parse(filter[field]))) delete filter[field];
  return filter as F;
}

/** The address of the page at `path` showing `filter`: its listed fields that are set, in the order listed */
export function filterUrl<F>(path: string, fields: readonly (keyof F & string)[], filter: F): string {
  const params = new URLSearchParams();
  for (const field of fields) {
    const value = filter[field];
    if (value) params.set(field, String(value));
  }
  const search = params.toString();
  return `${path}${search ? `?${search}` : ''}`;
}
