/* The request-path counters and histograms render exactly as prom-client's own would, escaping included. */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram } from '../../src/telemetry/hot-metrics.js';

describe('hot metrics', () => {
  it('render the same exposition text as prom-client for the same observations', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const buckets = [0.005, 0.01, 0.5, 1];
    const h1 = new Histogram({ name: 'h_seconds', help: 'a "help" text\\n', labelNames: ['m', 'p'], buckets, registers: [theirs] });
    const h2 = new HotHistogram({ name: 'h_seconds', help: 'a "help" text\\n', labelNames: ['m', 'p'], buckets, registry: ours });
    const c1 = new Counter({ name: 'c_total', help: 'c', labelNames: ['m', 's'], registers: [theirs] });
    const c2 = new HotCounter({ name: 'c_total', help: 'c', labelNames: ['m', 's'], registry: ours });
    const seen: Array<[string, string, number]> = [
      ['quote " backslash \\ newline \n', 'p', 0.004],
      ['x', 'y', 0.005], // on a bucket bound: counted in it
      ['x', 'y', 0.0051],
      ['x', 'y', 3], // above every bound: +Inf only
      ['x', 'z', 1],
    ];
    for (const [m, p, v] of seen) {
      h1.observe({ m, p }, v);
      h2.observe([m, p], v);
      c1.inc({ m, s: p }, v);
      c2.inc([m, p], v);
    }
    // a metric without labels has one series
    const u1 = new Counter({ name: 'u_total', help: 'u', registers: [theirs] });
    const u2 = new HotCounter({ name: 'u_total', help: 'u', labelNames: [], registry: ours });
    u1.inc(2);
    u2.inc([], 2);
    u1.inc();
    u2.inc([]);
    const uh1 = new Histogram({ name: 'uh_seconds', help: 'uh', buckets, registers: [theirs] });
    const uh2 = new HotHistogram({ name: 'uh_seconds', help: 'uh', labelNames: [], buckets, registry: ours });
    uh1.observe(0.02);
    uh2.observe([], 0.02);
    const expected = await theirs.metrics();
    expect(expected).toContain('u_total 3');
    expect(expected).toContain('h_seconds_bucket{le="+Inf",m="x",p="y"} 3');
    expect(await ours.metrics()).toBe(expected);

    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
