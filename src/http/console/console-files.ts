/*
 * The console's files. `npm run build` bundles them into dist/<hash>/console/ beside the server's code; a gateway
 * run from sources (tests, `npm run dev`) has no such folder and bundles console/src in memory instead, once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createStaticFile, type StaticFile } from '../static-file.js';

/** dist/<hash>/src/http/console/ → dist/<hash>/console/ in a build; src/http/console/ → console/ in the sources. */
const DEFAULT_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

interface ConsoleBuilder {
  buildConsole(options: { minify?: boolean }): Promise<Map<string, { contentType: string; body: Buffer }>>;
}

async function load(dir: string): Promise<Map<string, StaticFile>> {
  const manifestPath = join(dir, 'manifest.json');
  const files = new Map<string, StaticFile>();
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, string>;
    for (const [name, contentType] of Object.entries(manifest)) files.set(name, createStaticFile(contentType, readFileSync(join(dir, name))));
    return files;
  }
  const builder = join(dir, 'build.mjs');
  if (!existsSync(builder)) throw new Error(`no console in ${dir}: run \`npm run build\``);
  const { buildConsole } = (await import(pathToFileURL(builder).href)) as ConsoleBuilder;
  for (const [name, f] of await buildConsole({ minify: true })) files.set(name, createStaticFile(f.contentType, f.body));
  return files;
}

let loaded: Promise<Map<string, StaticFile>> | undefined;

/** By name (`index.html` and the hashed assets); read or bundled on first use, the same for every app in the process. */
export function consoleFiles(): Promise<Map<string, StaticFile>> {
  loaded ??= load(DEFAULT_DIR);
  return loaded;
}
