/*
 * The HAProxy configuration of `npm run cluster`: deploy/haproxy.cfg (the one compose.yaml mounts) with the blocks
 * between its `# BEGIN name` / `# END name` lines replaced by this machine's addresses. Everything else (health
 * checks, timeouts, retries) is the file's, so the two layouts cannot drift apart.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HAPROXY_TEMPLATE = join(dirname(fileURLToPath(import.meta.url)), '..', 'deploy', 'haproxy.cfg');

/** Replaces the lines between `# BEGIN name` and `# END name` (markers kept) with `lines`. */
function replaceBlock(text, name, lines) {
  const re = new RegExp(`^([ \\t]*)# BEGIN ${name}\\n[\\s\\S]*?^[ \\t]*# END ${name}$`, 'm');
  const match = re.exec(text);
  if (!match) throw new Error(`${HAPROXY_TEMPLATE}: no "# BEGIN ${name}" … "# END ${name}" block`);
  const indent = match[1];
  const body = lines.map((l) => `${indent}${l}\n`).join('');
  return text.replace(re, `${indent}# BEGIN ${name}\n${body}${indent}# END ${name}`);
}

/**
 * @param {{ bind: string, statsBind: string, servers: Array<{ name: string, address: string }> }} opts
 *   bind / statsBind: `host:port`; servers: one per instance, address `host:port`.
 */
export function renderHaproxyConfig({ bind, statsBind, servers }, template = readFileSync(HAPROXY_TEMPLATE, 'utf8')) {
  let text = replaceBlock(template, 'bind', [`bind ${bind}`]);
  text = replaceBlock(text, 'stats bind', [`bind ${statsBind}`]);
  text = replaceBlock(
    text,
    'servers',
    servers.map((s) => `server ${s.name} ${s.address}`),
  );
  // addresses are literal here: no DNS to ask
  return replaceBlock(text, 'resolvers', []);
}

/** The haproxy binary (Debian's package installs /usr/sbin/haproxy, often outside a user's PATH), or undefined. */
export function findHaproxy() {
  for (const candidate of [process.env.HAPROXY_BIN, '/usr/sbin/haproxy', 'haproxy']) {
    if (!candidate) continue;
    if (candidate.includes('/') && !existsSync(candidate)) continue;
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}
