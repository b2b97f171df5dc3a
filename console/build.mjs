/*
 * The console's bundle: console/src → <outdir>/ with esbuild (Preact, urql, graphql-ws, uPlot in one file each
 * for JS and CSS), named by content hash so a browser keeps each file for good, plus the page and a manifest.
 *
 * scripts/build.mjs calls this for `npm start` (into dist/<hash>/console/); a gateway run from sources (tests,
 * `npm run dev`) calls it once in memory on the first request for the console.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Where the page loads its files from; the gateway serves this folder's files under it. */
const ASSETS_PATH = '/console/assets/';

const CONTENT_TYPES = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };

const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page: no inline script or style, so it runs under a CSP that allows only this origin's files. */
function page(script, css, icon) {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>AI Gateway console</title>
    <link rel="icon" href="${escapeHtml(icon)}" />
    <link rel="stylesheet" href="${escapeHtml(css)}" />
    <script type="module" src="${escapeHtml(script)}"></script>
  </head>
  <body>
    <noscript>The console needs JavaScript.</noscript>
    <div id="app"></div>
  </body>
</html>
`;
}

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#4f46e5"/><path d="M9 22 16 9l7 13" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

/**
 * Bundles the console. Returns the files by name (`index.html` and the hashed assets) with their content types;
 * writes them and `manifest.json` into `outdir` when one is given.
 * @param {{ outdir?: string, minify?: boolean }} [options]
 * @returns {Promise<Map<string, { contentType: string, body: Buffer }>>}
 */
export async function buildConsole({ outdir, minify = true } = {}) {
  const result = await build({
    absWorkingDir: HERE,
    entryPoints: { console: 'src/main.tsx' },
    bundle: true,
    write: false,
    outdir: 'out',
    entryNames: '[name].[hash]',
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify,
    sourcemap: false,
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  const files = new Map();
  let script;
  let css;
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    const ext = name.slice(name.lastIndexOf('.') + 1);
    files.set(name, { contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream', body: Buffer.from(file.contents) });
    if (ext === 'js') script = ASSETS_PATH + name;
    if (ext === 'css') css = ASSETS_PATH + name;
  }
  if (!script || !css) throw new Error('console build: the bundle has no script or no stylesheet');
  const iconName = `icon.${createHash('sha256').update(ICON).digest('hex').slice(0, 8)}.svg`;
  files.set(iconName, { contentType: CONTENT_TYPES.svg, body: Buffer.from(ICON) });
  files.set('index.html', { contentType: 'text/html; charset=utf-8', body: Buffer.from(page(script, css, ASSETS_PATH + iconName)) });
  if (outdir) {
    mkdirSync(outdir, { recursive: true });
    const manifest = {};
    for (const [name, f] of files) {
      writeFileSync(join(outdir, name), f.body);
      manifest[name] = f.contentType;
    }
    writeFileSync(join(outdir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  }
  return files;
}
