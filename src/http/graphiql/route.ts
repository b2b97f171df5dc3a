/* GET /graphql/graphiql/<name>.<hash>.<ext>: GraphiQL's files, compressed when the client accepts it, cached for good. */
import type { Route } from '../metrics-route.js';
import { GRAPHIQL_ASSETS_PATH, graphiqlAssets, type Encoding } from './assets.js';

/** The content hash is in the name: a file at a given path never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** br if accepted, else gzip, else none (q=0 refuses a coding; `*` stands for any not named). */
function pickEncoding(acceptEncoding: string | undefined): Encoding | undefined {
  if (!acceptEncoding) return undefined;
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qParam ? Number(qParam.slice(2)) : 1;
    if (name) q.set(name, Number.isFinite(value) ? value : 0);
  }
  const accepts = (coding: string) => (q.get(coding) ?? q.get('*') ?? 0) > 0;
  if (accepts('br')) return 'br';
  if (accepts('gzip')) return 'gzip';
  return undefined;
}

export function createGraphiqlAssetsRoute(): Route {
  return async (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith(GRAPHIQL_ASSETS_PATH)) return false;
    const q = url.indexOf('?');
    const name = url.slice(GRAPHIQL_ASSETS_PATH.length, q < 0 ? undefined : q);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed\n');
      return true;
    }
    const asset = graphiqlAssets().files.get(name);
    if (!asset) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return true;
    }
    const encoding = pickEncoding(req.headers['accept-encoding']);
    const body = encoding ? await asset.encoded(encoding) : asset.body;
    res.writeHead(200, {
      'content-type': asset.contentType,
      'content-length': body.length,
      'cache-control': IMMUTABLE,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
      ...(encoding ? { 'content-encoding': encoding } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
