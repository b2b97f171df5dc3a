/*
 * The build proper: src/ → <outdir>/src with esbuild, migrations beside it, the console bundled into <outdir>/console.
 * scripts/build.mjs imports this only when the sources changed, so an unchanged `npm start` never loads esbuild.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { buildConsole } from '../console/build.mjs';

/** @param {{ root: string, outdir: string, templates?: string[] | null }} options  templates: earlier builds' database templates (null: make none) */
export async function buildInto({ root, outdir, templates = [] }) {
  await build({
    absWorkingDir: root,
    entryPoints: ['src/**/*.ts', 'src/db/pglite-worker.mjs'],
    outbase: '.',
    outdir,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    loader: { '.mjs': 'copy' },
    logLevel: 'warning',
  });
  cpSync(join(root, 'migrations'), join(outdir, 'migrations'), { recursive: true });
  // the operator's console, beside the server's code: src/http/console/console-files.js reads ../../../console/
  await buildConsole({ outdir: join(outdir, 'console') });
  // the embedded database of a first start, made once per build (or copied from an earlier build made by the same
  // PGlite from the same migrations): a first start copies it instead of running initdb and every migration
  if (templates === null) return;
  const { makeTemplate } = await import(pathToFileURL(join(outdir, 'src/db/pglite-template.js')).href);
  try {
    await makeTemplate(join(outdir, 'pglite-template'), templates);
  } catch (e) {
    // the build is still whole without it: a first start then creates the database itself, only slower
    process.stderr.write(`warning: the first start's database template could not be made (${e instanceof Error ? e.message : String(e)}); first starts will create the database themselves\n`);
  }
}
