/* The spool's size on /metrics, read when scraped: nothing is counted on the append path. */
import { Gauge, type Registry } from 'prom-client';
import type { UsageSpool } from './usage-spool.js';

export function registerSpoolMetrics(registry: Registry, spool: UsageSpool): void {
  new Gauge({
    name: 'gateway_usage_spool_segments',
    help: 'Usage spool segment files on disk (being appended to, waiting for their records to be written, or to be replayed)',
    registers: [registry],
    collect() {
      this.set(spool.stats().segments);
    },
  });
  new Gauge({
    name: 'gateway_usage_spool_bytes',
    help: 'Size of the usage spool segment files on disk (estimated from the characters appended)',
    registers: [registry],
    collect() {
      this.set(spool.stats().bytes);
    },
  });
}
