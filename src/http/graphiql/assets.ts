/*
 * GraphiQL's bundle (@graphql-yoga/render-graphiql, ≈ 9 MB of JS, CSS, Monaco workers and a favicon) as separate
 * files named by their content hash, so a browser downloads each once, compressed, and then keeps it.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createStaticFile, type StaticFile } from '../static-file.js';

type Bundle = typeof import('@graphql-yoga/render-graphiql/graphiql');

/** Where the files are served; under the GraphQL endpoint so that one proxy rule covers both. */
export const GRAPHIQL_ASSETS_PATH = '/graphql/graphiql/';

export interface GraphiqlAssets {
  /** By file name (the part after GRAPHIQL_ASSETS_PATH). */
  files: Map<string, StaticFile>;
  /** Paths for the page. */
  urls: { script: string; bootstrap: string; css: string; favicon: string };
}

/** Runs GraphiQL: Monaco's workers come from files like the rest; the options are in the page as JSON. */
function bootstrapScript(workers: Record<string, string>): string {
  return `(function () {
  var workers = ${JSON.stringify(workers)};
  self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: function (_moduleId, label) { return workers[label]; } };
  // the GraphiQL bundle is the next deferred script: it has run by DOMContentLoaded
  document.addEventListener('DOMContentLoaded', function () {
    var options = JSON.parse(document.getElementById('graphiql-options').textContent);
    YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
  });
})();
`;
}

function fromDataUrl(url: string): { contentType: string; body: Buffer } {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (!m) throw new Error('GraphiQL favicon is not a base64 data URL');
  return { contentType: m[1], body: Buffer.from(m[2], 'base64') };
}

function build(): GraphiqlAssets {
  // read only here, on a browser's first GraphiQL request: the module is the bundle's text, megabytes to compile and hold
  const bundle = createRequire(import.meta.url)('@graphql-yoga/render-graphiql/graphiql') as Bundle;
  const files = new Map<string, StaticFile>();
  const add = (stem: string, ext: string, contentType: string, body: Buffer): string => {
    const name = `${stem}.${createHash('sha256').update(body).digest('hex').slice(0, 16)}.${ext}`;
    files.set(name, createStaticFile(contentType, body));
    return GRAPHIQL_ASSETS_PATH + name;
  };
  const js = 'text/javascript; charset=utf-8';
  const workers = {
    editorWorkerService: add('editor-worker', 'js', js, Buffer.from(bundle.editorWorkerService)),
    json: add('json-worker', 'js', js, Buffer.from(bundle.jsonWorker)),
    graphql: add('graphql-worker', 'js', js, Buffer.from(bundle.graphqlWorker)),
  };
  const icon = fromDataUrl(bundle.favicon);
  return {
    files,
    urls: {
      script: add('graphiql', 'js', js, Buffer.from(bundle.js)),
      bootstrap: add('bootstrap', 'js', js, Buffer.from(bootstrapScript(workers))),
      css: add('graphiql', 'css', 'text/css; charset=utf-8', Buffer.from(bundle.css)),
      favicon: add('favicon', 'ico', icon.contentType, icon.body),
    },
  };
}

let assets: GraphiqlAssets | undefined;

/** The same for every app in the process (the bundle is a constant): built on first use. */
export function graphiqlAssets(): GraphiqlAssets {
  assets ??= build();
  return assets;
}
