// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**', 'test-artifacts/**', '.data/**', 'console/src/graphql-env.d.ts'] },
  {
    files: ['**/*.{ts,js,mjs}'],
    // typescript-eslint's type-aware presets are left out: they build a whole TypeScript program and made a run
    // several times slower than this (npm run typecheck already runs the compiler)
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: {
      // `_name` marks a parameter an interface requires, or a key taken out of a rest spread
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // the console runs in a browser
    files: ['console/src/**/*.{ts,tsx}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: globals.browser },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['src/gateway/**/*.ts'],
    rules: {
      // issue 21: a reader sees one step of an invocation on one screen. Blank lines and comments do not count:
      // a why-comment must never be the thing cut to fit
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
);
