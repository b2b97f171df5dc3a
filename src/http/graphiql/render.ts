/* The GraphiQL page: a few hundred bytes of HTML that load the bundle's files (assets.ts). */
import type { GraphiQLOptions } from 'graphql-yoga';
import { graphiqlAssets } from './assets.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * No inline script: the options travel as JSON data, so the page runs under a CSP that allows only this origin's
 * scripts. Monaco sets inline styles (style-src 'unsafe-inline'); the CSS carries its fonts and images as data URLs.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Yoga's `renderGraphiQL` option: the page for a browser's GET on the GraphQL endpoint. */
export function renderGraphiQL(options: GraphiQLOptions = {}): string {
  const { urls } = graphiqlAssets();
  // inside a <script> element only "</script" could end it early: escape every "<"
  const json = JSON.stringify(options).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta http-equiv="Content-Security-Policy" content="${CSP}" />
    <title>${escapeHtml(options.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${escapeHtml(options.favicon ?? urls.favicon)}" />
    <link rel="stylesheet" href="${urls.css}" />
    <script type="application/json" id="graphiql-options">${json}</script>
    <script defer src="${urls.bootstrap}"></script>
    <script defer src="${urls.script}"></script>
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run GraphiQL.</noscript>
    <div id="root"></div>
  </body>
</html>
`;
}
