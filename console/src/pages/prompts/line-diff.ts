/*
 * Which lines of two texts differ: the longest common subsequence of lines is "same", what is left on the A side
 * was removed, on the B side added. Prompts are short, so the plain O(n·m) table is enough.
 */
export type LineMark = 'same' | 'removed' | 'added';

export function diffLines(a: string[], b: string[]): { a: LineMark[]; b: LineMark[] } {
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..]
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const marksA = new Array<LineMark>(n).fill('removed');
  const marksB = new Array<LineMark>(m).fill('added');
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      marksA[i++] = 'same';
      marksB[j++] = 'same';
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) i++;
    else j++;
  }
  return { a: marksA, b: marksB };
}
