/* dist/current: a one-line file naming the current build folder, dist/<hash>/ (see scripts/build.mjs). Kept apart
 * from the build script so that starting the gateway never loads esbuild. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
export const BUILD_NAME = /^[0-9a-f]{16}$/;

/** The name of the current build folder, or undefined when there is none. */
export function readPointer() {
  try {
    const name = readFileSync(join(DIST, 'current'), 'utf8').trim();
    return BUILD_NAME.test(name) ? name : undefined;
  } catch {
    return undefined;
  }
}
