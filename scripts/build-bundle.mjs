/*
 * The build proper: src/ → <outdir>/src with esbuild, migrations beside it, the console bundled into <outdir>/console.
 * scripts/build.mjs imports this only when the sources changed, so an unchanged `npm start` never loads esbuild.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildConsole } from '../console/build.mjs';

/** @param {{ root: string, outdir: string }} options */
export async function buildInto({ root, outdir }) {
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
}
