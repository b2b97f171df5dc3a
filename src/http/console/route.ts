/*
 * The operator's console: GET /console and every page under it answer the console's page (the app routes in the
 * browser), /console/assets/<name>.<hash>.<ext> its files, cached for good; a browser's GET / is sent to /console/.
 * The console talks to /graphql only, as any client does.
 */
import type { IncomingMessage } from 'node:http';
import type { Route } from '../metrics-route.js';
import { refuseUnlessRead, sendStaticFile } from '../static-file.js';
import { consoleFiles } from './console-files.js';

const ASSETS = '/console/assets/';
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Only this origin's scripts, styles and connections (HTTP and websocket); nothing inline, no frames, no forms. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  // the page names the current hashed files: always revalidated, so a new build is picked up at once
  'cache-control': 'no-cache',
  'content-security-policy': CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const wantsHtml = (req: IncomingMessage) => (req.headers.accept ?? '').includes('text/html');

export function createConsoleRoute(): Route {
  return async (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/' && req.method === 'GET' && wantsHtml(req)) {
      res.writeHead(302, { location: '/console/' });
      res.end();
      return true;
    }
    if (path !== '/console' && !path.startsWith('/console/')) return false;
    if (refuseUnlessRead(req, res)) return true;
    const files = await consoleFiles();
    if (path.startsWith(ASSETS)) {
      const name = path.slice(ASSETS.length);
      // the page itself is not an asset: served from here it would lack its CSP and be cached for good
      const file = name === 'index.html' ? undefined : files.get(name);
      if (!file) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
        return true;
      }
      await sendStaticFile(req, res, file, { 'cache-control': IMMUTABLE });
      return true;
    }
    const index = files.get('index.html');
    if (!index) throw new Error('the console bundle has no index.html');
    await sendStaticFile(req, res, index, PAGE_HEADERS);
    return true;
  };
}
