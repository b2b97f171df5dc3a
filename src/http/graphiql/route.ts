/* GET /graphql/graphiql/<name>.<hash>.<ext>: GraphiQL's files, compressed when the client accepts it, cached for good. */
import type { Route } from '../metrics-route.js';
import { refuseUnlessRead, sendStaticFile } from '../static-file.js';
import { GRAPHIQL_ASSETS_PATH, graphiqlAssets } from './assets.js';

/** The content hash is in the name: a file at a given path never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

export function createGraphiqlAssetsRoute(): Route {
  return async (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith(GRAPHIQL_ASSETS_PATH)) return false;
    const q = url.indexOf('?');
    const name = url.slice(GRAPHIQL_ASSETS_PATH.length, q < 0 ? undefined : q);
    if (refuseUnlessRead(req, res)) return true;
    const asset = graphiqlAssets().files.get(name);
    if (!asset) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return true;
    }
    await sendStaticFile(req, res, asset, { 'cache-control': IMMUTABLE });
    return true;
  };
}
