import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // one graphql instance: Vite would resolve our own `import 'graphql'` to index.mjs while Pothos, Yoga and
    // graphql-ws (loaded by Node) get the CommonJS index.js — two realms, and instanceof GraphQLError fails
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)) }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './test/kit/summary-reporter.ts'],
  },
});
