/* The BPE tables load on the first count (not at start-up), from the package's CommonJS build: the same counts as its ES build. */
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('/gpt-tokenizer/'));

it('loads the encoder on the first count, which counts as the ES module does', async () => {
  const { countMessagesTokens, countTextTokens } = await import('../../src/providers/count-tokens.js');
  expect(loaded()).toBe(false);
  const texts = ['Hello, world!', 'Ünïcödé, emoji 🙂 and code: const x = [1, 2, 3];', 'x'.repeat(5000)];
  const counts = texts.map(countTextTokens);
  expect(loaded()).toBe(true);
  const { encode } = await import('gpt-tokenizer/encoding/o200k_base');
  expect(counts).toEqual(texts.map((t) => encode(t).length));
  expect(countMessagesTokens([{ role: 'USER', content: texts[1] }])).toBe(3 + 3 + encode(texts[1]).length);
});
