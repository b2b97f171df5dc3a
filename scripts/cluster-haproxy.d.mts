/* Types of scripts/cluster-haproxy.mjs. */
export const HAPROXY_TEMPLATE: string;
export function renderHaproxyConfig(
  opts: { bind: string; statsBind: string; servers: Array<{ name: string; address: string }> },
  template?: string,
): string;
export function findHaproxy(): string | undefined;
