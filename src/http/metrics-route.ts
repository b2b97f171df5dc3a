/* GET /metrics in Prometheus text format, optionally behind METRICS_TOKEN. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Metrics } from '../telemetry/metrics.js';

export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

function tokenMatches(header: string | undefined, token: string): boolean {
  const got = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

export function createMetricsRoute(metrics: Metrics, pendingUsage: () => number, token?: string): Route {
  return async (req, res) => {
    // every request passes here first: compared as it is, never split
    const url = req.url ?? '';
    if (url !== '/metrics' && !url.startsWith('/metrics?')) return false;
    if (token && !tokenMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
      res.end('metrics token required\n');
      return true;
    }
    const body = await metrics.render(pendingUsage());
    res.writeHead(200, { 'content-type': metrics.registry.contentType });
    res.end(body);
    return true;
  };
}
