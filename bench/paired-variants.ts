/*
 * Paired rounds of a few variants of one load (bench/layers.ts): in each round every variant runs back to back, a
 * warm-up then a measured run, the order reversed every other round, so the machine's drift over minutes (other
 * tenants of the host) falls on all of them alike. A variant's figures are the medians of its rounds; its ratio to
 * the first variant is the median of the per-round ratios, which is steadier than the ratio of the medians.
 */
import autocannon from 'autocannon';
import { cpuMs, rssMb } from './proc-stats.js';

export interface Variant {
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** the server process the variant's CPU and RSS are read from */
  pid: number;
  /** a 200 answer that fails this counts as a bad body */
  ok?(body: string): boolean;
  /** the variant this one's ratio and added latency are taken against; default the first */
  against?: string;
}

export interface VariantRun {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** the server's CPU (all its threads) per answered call, µs */
  cpuUsPerReq: number;
  rssPeakMb: number;
  non2xx: number;
  badBodies: number;
}

export interface VariantResult {
  name: string;
  runs: VariantRun[];
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  rssPeakMb: number;
  non2xx: number;
  badBodies: number;
  /** the variant it is compared with (itself for the first) */
  against: string;
  /** rps / that variant's rps, per round */
  ratios: number[];
  ratio: number;
  /** 2xx answers of every run, warm-ups included: what the server should have logged or traced */
  answered: number;
}

export interface PairedOptions {
  connections: number;
  rounds: number;
  durationS: number;
  warmupS: number;
  /** seconds of load on each variant before the first round, unmeasured: a fresh process's JIT warms up */
  prewarmS?: number;
  /** called just before and just after each measured run (not its warm-up), e.g. to read a span count */
  beforeRun?(variant: Variant): void;
  afterRun?(variant: Variant, run: VariantRun, round: number): void;
}

export function median(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

function quantile(sorted: Float64Array, p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]! : NaN;
}

interface Shot {
  ok2xx: number;
  durationS: number;
  non2xx: number;
  bad: number;
  samples: number[];
}

/** One autocannon run; latency from each 200 answer's own timing (sub-millisecond, unlike the histogram's). */
function shoot(v: Variant, connections: number, durationS: number): Promise<Shot> {
  const u = new URL(v.url);
  const samples: number[] = [];
  let bad = 0;
  return new Promise((res, rej) => {
    const inst = autocannon(
      {
        url: `${u.protocol}//${u.host}`,
        connections,
        duration: durationS,
        timeout: 20,
        requests: [
          {
            method: 'POST',
            path: u.pathname,
            headers: v.headers,
            body: v.body,
            onResponse: (status: number, body: string) => {
              if (status === 200 && v.ok && !v.ok(body)) bad++;
            },
          },
        ],
      },
      (err: unknown, r: autocannon.Result) =>
        err ? rej(err) : res({ ok2xx: r['2xx'], durationS: r.duration, non2xx: r.non2xx, bad, samples }),
    );
    inst.on('response', (_c: unknown, status: number, _b: number, ms: number) => status === 200 && samples.push(ms));
  });
}

async function measureOnce(v: Variant, o: PairedOptions, answered: Map<string, number>): Promise<VariantRun> {
  const warm = await shoot(v, o.connections, o.warmupS);
  o.beforeRun?.(v);
  let peak = rssMb(v.pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(v.pid))), 250);
  const cpuBefore = cpuMs(v.pid);
  const shot = await shoot(v, o.connections, o.durationS);
  const cpu = cpuMs(v.pid) - cpuBefore;
  clearInterval(sampler);
  peak = Math.max(peak, rssMb(v.pid));
  answered.set(v.name, (answered.get(v.name) ?? 0) + warm.ok2xx + shot.ok2xx);
  const lat = Float64Array.from(shot.samples).sort();
  return {
    rps: shot.ok2xx / shot.durationS,
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    cpuUsPerReq: shot.ok2xx ? (cpu * 1000) / shot.ok2xx : NaN,
    rssPeakMb: peak,
    non2xx: shot.non2xx + warm.non2xx,
    badBodies: shot.bad + warm.bad,
  };
}

export async function pairedRounds(variants: Variant[], o: PairedOptions): Promise<VariantResult[]> {
  const runs = new Map<string, VariantRun[]>(variants.map((v) => [v.name, []]));
  const answered = new Map<string, number>();
  for (const v of o.prewarmS ? variants : []) {
    const warm = await shoot(v, o.connections, o.prewarmS!);
    answered.set(v.name, (answered.get(v.name) ?? 0) + warm.ok2xx);
  }
  for (let round = 0; round < o.rounds; round++) {
    for (const v of round % 2 ? [...variants].reverse() : variants) {
      const run = await measureOnce(v, o, answered);
      runs.get(v.name)!.push(run);
      o.afterRun?.(v, run, round);
    }
  }
  return variants.map((v) => {
    const against = v.against ?? variants[0]!.name;
    const ref = runs.get(against);
    if (!ref) throw new Error(`variant ${v.name}: no variant ${against} to compare with`);
    const rs = runs.get(v.name)!;
    const ratios = rs.map((r, i) => (ref[i]!.rps ? r.rps / ref[i]!.rps : NaN));
    return {
      name: v.name,
      against,
      runs: rs,
      rps: median(rs.map((r) => r.rps)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
      rssPeakMb: Math.max(...rs.map((r) => r.rssPeakMb)),
      non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
      badBodies: rs.reduce((n, r) => n + r.badBodies, 0),
      ratios,
      ratio: median(ratios),
      answered: answered.get(v.name) ?? 0,
    };
  });
}

/** One line per variant: its medians, and against its reference variant its ratio and the latency it adds. */
export function formatPaired(results: VariantResult[], prefix = ''): string[] {
  const width = Math.max(...results.map((r) => r.name.length));
  const ms = (x: number) => x.toFixed(2);
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${ms(x)}`;
  return results.map((r) => {
    const head = `${prefix}${r.name.padEnd(width)}  ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${ms(r.p50Ms)} ms  p99 ${ms(r.p99Ms)} ms  CPU ${r.cpuUsPerReq.toFixed(0)} µs/call  RSS peak ${r.rssPeakMb.toFixed(0)} MB`;
    const errs = r.non2xx || r.badBodies ? `  non-2xx ${r.non2xx}, bad bodies ${r.badBodies}` : '';
    const base = results.find((x) => x.name === r.against)!;
    if (r === base) return head + errs;
    return `${head}   ${r.ratio.toFixed(2)}× ${base.name} (rounds ${r.ratios.map((x) => x.toFixed(2)).join(', ')}), p50 ${signed(r.p50Ms - base.p50Ms)} ms, p99 ${signed(r.p99Ms - base.p99Ms)} ms${errs}`;
  });
}
