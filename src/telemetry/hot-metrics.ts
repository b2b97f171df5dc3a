/*
 * Counters and histograms for the metrics every request touches, registered in prom-client's registry (which
 * renders them like its own). prom-client validates and hashes the label object on every inc/observe and
 * builds a closure per observation, several times per chat: a visible share of the gateway's CPU per request
 * (figures in bench/README.md).
 * Here the caller passes label values positionally, the series is found through one Map per label, and a histogram
 * observation is a bucket search and three additions. Label values must come from bounded sets, as always.
 */
import type { Registry } from 'prom-client';

interface Series {
  labels: Record<string, string>;
  value: number;
}

interface HistogramSeries {
  labels: Record<string, string>;
  /** per bucket (not cumulative), plus one for +Inf */
  counts: number[];
  sum: number;
  count: number;
}

type Values = Array<{ labels: Record<string, string>; value: number; metricName?: string }>;

/**
 * Series by label values, one Map level per label: finding a series reads the values as they are, where a
 * joined key would build and hash a new string on every call.
 */
class SeriesIndex<S> {
  private readonly root = new Map<string, unknown>();
  private readonly all: S[] = [];

  /** The one series of a metric without labels. */
  private unlabelled: S | undefined;

  get(values: readonly string[]): S | undefined {
    if (!values.length) return this.unlabelled;
    let node: unknown = this.root;
    for (let i = 0; i < values.length && node; i++) node = (node as Map<string, unknown>).get(values[i]);
    return node as S | undefined;
  }

  add(values: readonly string[], series: S): S {
    this.all.push(series);
    if (!values.length) return (this.unlabelled = series);
    let node = this.root;
    for (let i = 0; i < values.length - 1; i++) {
      let next = node.get(values[i]) as Map<string, unknown> | undefined;
      if (!next) node.set(values[i], (next = new Map()));
      node = next;
    }
    node.set(values[values.length - 1], series);
    return series;
  }

  values(): readonly S[] {
    return this.all;
  }

  clear(): void {
    this.root.clear();
    this.all.length = 0;
    this.unlabelled = undefined;
  }
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) labels[names[i]] = values[i];
  return labels;
}

/** The prom-client metric interface the registry reads (get/reset, name, help, type, aggregator). */
abstract class HotMetric {
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }
  abstract get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Values }>;
  abstract reset(): void;
}

export class HotCounter<L extends string> extends HotMetric {
  readonly type = 'counter';
  private series = new SeriesIndex<Series>();

  constructor(opts: { name: string; help: string; labelNames: readonly L[]; registry: Registry }) {
    super(opts.name, opts.help, opts.labelNames, opts.registry);
    this.reset();
  }

  /** `values` in the order of labelNames. */
  inc(values: readonly string[], by = 1): void {
    const s = this.series.get(values) ?? this.series.add(values, { labels: labelsOf(this.labelNames, values), value: 0 });
    s.value += by;
  }

  async get() {
    const values: Values = [];
    for (const s of this.series.values()) values.push({ labels: s.labels, value: s.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
    // like prom-client: a metric without labels shows its one series at zero from the start
    if (!this.labelNames.length) this.series.add([], { labels: {}, value: 0 });
  }
}

export class HotHistogram<L extends string> extends HotMetric {
  readonly type = 'histogram';
  private series = new SeriesIndex<HistogramSeries>();
  private readonly buckets: number[];
  private readonly le: string[];

  constructor(opts: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registry: Registry }) {
    super(opts.name, opts.help, opts.labelNames, opts.registry);
    this.buckets = [...opts.buckets].sort((a, b) => a - b);
    this.le = [...this.buckets.map(String), '+Inf'];
  }

  /** `values` in the order of labelNames. */
  observe(values: readonly string[], x: number): void {
    if (!Number.isFinite(x)) return;
    const s =
      this.series.get(values) ??
      this.series.add(values, { labels: labelsOf(this.labelNames, values), counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 });
    let i = 0;
    while (i < this.buckets.length && x > this.buckets[i]) i++;
    s.counts[i]++;
    s.sum += x;
    s.count++;
  }

  async get() {
    const values: Values = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.le.length; i++) {
        cumulative += s.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { le: this.le[i], ...s.labels }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    // unlike a counter, prom-client shows a histogram without labels only once it has observed something
    this.series.clear();
  }
}
