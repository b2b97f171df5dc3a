/*
 * Summarises a V8 .cpuprofile (from node --cpu-prof): the top functions by self time, self time grouped by
 * package / source file, and the gateway's own functions (src/) by inclusive time.
 *
 *   tsx bench/top-functions.ts [file.cpuprofile | dir] [--top=20] [--from=<s>] [--to=<s>]
 *
 * --from/--to keep only the samples taken that many seconds after the profile started (one phase of a run).
 * Without a file it reads the newest .cpuprofile in bench/results/prof.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionRow {
  name: string;
  location: string;
  group: string;
  selfMs: number;
  selfPct: number;
  totalMs?: number;
  totalPct?: number;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  sampledMs: number;
  idleMs: number;
  busyMs: number;
  top: FunctionRow[];
  groups: Array<{ group: string; selfMs: number; selfPct: number }>;
  gatewayInclusive: FunctionRow[];
}

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

function shortUrl(url: string): string {
  if (!url) return '';
  let u = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + 1);
  if (u.startsWith(ROOT + '/')) u = u.slice(ROOT.length + 1);
  return u;
}

/** node_modules/<package>, src/<file>, node:<module>, or the V8 pseudo-frames ((garbage collector), (program), …). */
function groupOf(frame: CallFrame): string {
  const u = shortUrl(frame.url);
  if (!u) return frame.functionName.startsWith('(') ? frame.functionName : '(native / builtin)';
  if (u.startsWith('node_modules/')) {
    const parts = u.split('/');
    return parts[1].startsWith('@') ? `${parts[1]}/${parts[2]}` : parts[1];
  }
  if (u.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+)/.exec(u);
    return `node:${m ? m[1] : u}`;
  }
  return u;
}

function keyOf(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'}\0${frame.url}\0${frame.lineNumber}`;
}

function label(frame: CallFrame): { name: string; location: string } {
  const u = shortUrl(frame.url);
  return { name: frame.functionName || '(anonymous)', location: u ? `${u}:${frame.lineNumber + 1}` : '' };
}

/** The newest main-thread profile in dir (--cpu-prof also writes one per worker, e.g. tsx's loader thread). */
export function newestProfile(dir: string): string | undefined {
  let best: { file: string; mtime: number } | undefined;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const n of names) {
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread
    if (!/\.0\.\d+\.cpuprofile$/.test(n)) continue;
    const file = join(dir, n);
    const mtime = statSync(file).mtimeMs;
    if (!best || mtime > best.mtime) best = { file, mtime };
  }
  return best?.file;
}

export function summarizeProfile(file: string, top = 20, window: { fromS?: number; toS?: number } = {}): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) byId.set(n.id, n);
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // self time per node: each sample's delta belongs to the node sampled (V8 attributes delta i+1 to sample i)
  const selfUs = new Map<number, number>();
  const n = prof.samples.length;
  const fromUs = (window.fromS ?? 0) * 1e6;
  const toUs = (window.toS ?? Infinity) * 1e6;
  let at = 0;
  for (let i = 0; i < n; i++) {
    at += prof.timeDeltas[i];
    if (at < fromUs || at > toUs) continue;
    const dt = i + 1 < n ? prof.timeDeltas[i + 1] : 0;
    if (dt > 0) selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + dt);
  }

  let sampledUs = 0;
  let idleUs = 0;
  const fnSelf = new Map<string, { frame: CallFrame; us: number }>();
  const groupSelf = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    sampledUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const k = keyOf(frame);
    const e = fnSelf.get(k) ?? { frame, us: 0 };
    e.us += us;
    fnSelf.set(k, e);
    const g = groupOf(frame);
    groupSelf.set(g, (groupSelf.get(g) ?? 0) + us);
  }
  const busyUs = sampledUs - idleUs;
  const pct = (us: number) => (busyUs > 0 ? (100 * us) / busyUs : 0);

  // inclusive time of the gateway's own functions (each function counted once per sample, recursion or not)
  const fnTotal = new Map<string, { frame: CallFrame; us: number }>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      if (frame.functionName === '(idle)') break;
      const u = shortUrl(frame.url);
      if (!u.startsWith('src/') && !u.startsWith('dist/')) continue;
      const k = keyOf(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      const e = fnTotal.get(k) ?? { frame, us: 0 };
      e.us += us;
      fnTotal.set(k, e);
    }
  }

  const rows = [...fnSelf.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map(({ frame, us }) => ({ ...label(frame), group: groupOf(frame), selfMs: us / 1000, selfPct: pct(us) }));
  const groups = [...groupSelf.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([group, us]) => ({ group, selfMs: us / 1000, selfPct: pct(us) }));
  const selfByKey = new Map([...fnSelf.entries()].map(([k, v]) => [k, v.us]));
  const gatewayInclusive = [...fnTotal.entries()]
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, top)
    .map(([k, { frame, us }]) => ({
      ...label(frame),
      group: groupOf(frame),
      selfMs: (selfByKey.get(k) ?? 0) / 1000,
      selfPct: pct(selfByKey.get(k) ?? 0),
      totalMs: us / 1000,
      totalPct: pct(us),
    }));

  return {
    file,
    wallMs: Math.min(prof.endTime - prof.startTime, toUs) / 1000 - Math.min(fromUs, prof.endTime - prof.startTime) / 1000,
    sampledMs: sampledUs / 1000,
    idleMs: idleUs / 1000,
    busyMs: busyUs / 1000,
    top: rows,
    groups,
    gatewayInclusive,
  };
}

function pad(s: string, w: number): string {
  return s.length >= w ? s : s + ' '.repeat(w - s.length);
}

function lpad(s: string, w: number): string {
  return s.length >= w ? s : ' '.repeat(w - s.length) + s;
}

export function formatSummary(s: ProfileSummary): string {
  const out: string[] = [];
  out.push(`profile ${shortUrl(s.file)}: wall ${(s.wallMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(1)} s, idle ${(s.idleMs / 1000).toFixed(1)} s (percentages are of busy time)`);
  out.push('');
  out.push(`top ${s.top.length} functions by self time`);
  out.push(`  ${lpad('self ms', 9)} ${lpad('%', 6)}  ${pad('function', 40)} location`);
  for (const r of s.top) out.push(`  ${lpad(r.selfMs.toFixed(0), 9)} ${lpad(r.selfPct.toFixed(1), 6)}  ${pad(r.name.slice(0, 40), 40)} ${r.location}`);
  out.push('');
  out.push('self time by package / file');
  for (const g of s.groups) out.push(`  ${lpad(g.selfMs.toFixed(0), 9)} ${lpad(g.selfPct.toFixed(1), 6)}  ${g.group}`);
  out.push('');
  out.push('gateway functions (src/, or dist/ for the build) by inclusive time');
  out.push(`  ${lpad('total ms', 9)} ${lpad('%', 6)} ${lpad('self %', 7)}  ${pad('function', 40)} location`);
  for (const r of s.gatewayInclusive) {
    out.push(`  ${lpad((r.totalMs ?? 0).toFixed(0), 9)} ${lpad((r.totalPct ?? 0).toFixed(1), 6)} ${lpad(r.selfPct.toFixed(1), 7)}  ${pad(r.name.slice(0, 40), 40)} ${r.location}`);
  }
  return out.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const num = (name: string) => {
    const a = args.find((x) => x.startsWith(`--${name}=`));
    return a ? Number(a.slice(name.length + 3)) : undefined;
  };
  const topN = num('top') ?? 20;
  const target = args.find((a) => !a.startsWith('--')) ?? join(ROOT, 'bench/results/prof');
  const file = target.endsWith('.cpuprofile') ? target : newestProfile(target);
  if (!file) {
    console.error(`no .cpuprofile found in ${target}`);
    process.exit(1);
  }
  console.log(formatSummary(summarizeProfile(file, topN, { fromS: num('from'), toS: num('to') })));
}
