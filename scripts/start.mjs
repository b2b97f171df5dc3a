/*
 * npm start (after npm run build): runs the current build, dist/<hash>/src/main.js, in this process.
 *
 * While it runs, it holds a lease on its build folder (dist/<hash>/.leases/<pid>), so a later build in the same
 * checkout does not remove files this process may still import. The module paths resolve inside dist/<hash>/,
 * so a newer build swapped in meanwhile changes nothing for this process.
 */
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST, readPointer } from './dist-pointer.mjs';

const name = readPointer();
if (!name) {
  process.stderr.write('No build in dist/: run `npm run build` first (npm start does).\n');
  process.exit(1);
}
const folder = join(DIST, name);
const lease = join(folder, '.leases', String(process.pid));
mkdirSync(dirname(lease), { recursive: true });
writeFileSync(lease, '');
process.on('exit', () => {
  try {
    unlinkSync(lease);
  } catch {
    // a build may already have removed a lease it found dead
  }
});
await import(pathToFileURL(join(folder, 'src', 'main.js')).href);
