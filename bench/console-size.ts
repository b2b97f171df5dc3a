/*
 * The console's first page as a browser downloads it: the page and every file it names, raw, gzip (level 9) and
 * brotli (quality 6, what the gateway sends), read from the build that `npm start` runs (dist/current).
 * Issue 22's goal: under 300 KB gzipped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export interface ConsoleSize {
  files: string[];
  rawBytes: number;
  gzipBytes: number;
  brotliBytes: number;
}

export function consoleFirstPageSize(root: string): ConsoleSize {
  const build = readFileSync(join(root, 'dist', 'current'), 'utf8').trim();
  const dir = join(root, 'dist', build, 'console');
  const page = readFileSync(join(dir, 'index.html'));
  const names = [...page.toString('utf8').matchAll(/(?:src|href)="\/console\/assets\/([^"]+)"/g)].map((m) => m[1]);
  const bodies = [page, ...names.map((n) => readFileSync(join(dir, n)))];
  const sum = (f: (b: Buffer) => number) => bodies.reduce((n, b) => n + f(b), 0);
  return {
    files: ['index.html', ...names],
    rawBytes: sum((b) => b.length),
    gzipBytes: sum((b) => gzipSync(b, { level: 9 }).length),
    brotliBytes: sum((b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 6 } }).length),
  };
}
