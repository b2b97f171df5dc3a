/* The console's pages and who sees each: the scopes `viewer` reports decide, as the API itself would. */
import type { Scope } from './session';

export interface NavItem {
  path: string;
  label: string;
  /** Shown when the key has any of these (ADMIN has all) */
  scopes: Scope[];
}

export const BASE = '/console';

export const NAV: NavItem[] = [
  { path: `${BASE}/`, label: 'Overview', scopes: ['READ_USAGE'] },
  { path: `${BASE}/live`, label: 'Live tail', scopes: ['READ_USAGE'] },
  { path: `${BASE}/usage`, label: 'Usage', scopes: ['READ_USAGE'] },
  // any key may read its own calls (the API scopes them), so INVOKE keys see the page too
  { path: `${BASE}/calls`, label: 'Calls', scopes: ['READ_USAGE', 'INVOKE'] },
  { path: `${BASE}/keys`, label: 'Keys', scopes: ['ADMIN'] },
  { path: `${BASE}/models`, label: 'Models', scopes: ['ADMIN'] },
  { path: `${BASE}/teams`, label: 'Teams', scopes: ['ADMIN', 'TEAM_ADMIN'] },
  { path: `${BASE}/access`, label: 'Access', scopes: ['ADMIN', 'TEAM_ADMIN'] },
  { path: `${BASE}/prompts`, label: 'Prompts', scopes: ['INVOKE'] },
  { path: `${BASE}/playground`, label: 'Playground', scopes: ['INVOKE'] },
];
