/* The committed artifacts match the code: printed SDL, the public contract, and the drizzle migrations. */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { GraphQLError, buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema, schema } from '../../src/schema/index.js';
import { contractDifferences } from './contract-diff.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), base) : [relative(base, join(dir, e.name))],
  ).sort();
}

describe('schema artifact', () => {
  it('tests see one graphql instance (the one Pothos, Yoga and graphql-ws load), not a second ESM copy', () => {
    // two copies make every `instanceof GraphQLError` in Yoga fail: expected errors come out masked, with 500s
    const nodeGraphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');
    expect(GraphQLError, 'vitest.config.ts must alias `graphql` to its CommonJS entry').toBe(nodeGraphql.GraphQLError);
    expect(nodeGraphql.isSchema(schema)).toBe(true);
  });

  it('schema/schema.graphql is the printed Pothos schema', () => {
    const committed = readFileSync(join(root, 'schema/schema.graphql'), 'utf8');
    const printed = printedSchema();
    if (committed !== printed) {
      expect.fail('schema/schema.graphql is stale: run `npm run schema:print` and commit the result');
    }
    expect(committed).toMatch(/chatStream\([\s\S]*?input: ChatInput!\s*\): ChatChunk!/);
  });

  it("the console's typed documents are checked against the committed schema (console/src/graphql-env.d.ts is current)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-tada-'));
    try {
      const out = join(dir, 'graphql-env.d.ts');
      await run(join(root, 'node_modules/.bin/gql.tada'), ['generate-output', '-c', join(root, 'console/tsconfig.json'), '-o', out], { cwd: root });
      if (readFileSync(out, 'utf8') !== readFileSync(join(root, 'console/src/graphql-env.d.ts'), 'utf8')) {
        expect.fail('console/src/graphql-env.d.ts is stale: run `npm run schema:print` and commit the result');
      }
      expect(readFileSync(out, 'utf8')).toContain("'chatStream'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is a superset of the public contract (schema/contract.graphql)', () => {
    const contract = buildSchema(readFileSync(join(root, 'schema/contract.graphql'), 'utf8'));
    expect(contractDifferences(buildSchema(readFileSync(join(root, 'schema/schema.graphql'), 'utf8')), contract)).toEqual([]);
    expect(contract.getMutationType()?.getFields().chat).toBeDefined();
  });

  it('the contract check sees a removed field, a changed type and a new required argument', () => {
    const contract = buildSchema('type Query { a(x: Int): String! b: Int c: [String!]! }');
    expect(contractDifferences(buildSchema('type Query { a(x: Int): String! b: Int! c: [String!]! }'), contract)).toEqual([]);
    expect(contractDifferences(buildSchema('type Query { a(x: Int, y: Int!): String b: String }'), contract)).toEqual([
      'Query.a: type String, contract says String!',
      'Query.a(y): extra required argument breaks contract calls',
      'Query.b: type String, contract says Int',
      'Query.c: missing',
    ]);
  });
});

describe('database migrations', () => {
  it('drizzle-kit generate finds no schema change that is not in migrations/', async () => {
    // generate into a copy of migrations/ (drizzle-kit wants a path relative to the cwd)
    const tmp = mkdtempSync(join(tmpdir(), 'gw-migrations-'));
    try {
      const out = join(tmp, 'migrations');
      cpSync(join(root, 'migrations'), out, { recursive: true });
      const before = listFiles(out);
      const bin = join(root, 'node_modules/drizzle-kit/bin.cjs');
      const { stdout } = await run(
        process.execPath,
        [bin, 'generate', '--dialect', 'postgresql', '--schema', './src/db/schema.ts', '--out', relative(root, out)],
        { cwd: root, timeout: 60_000 },
      );
      const after = listFiles(out);
      expect(after, `drizzle-kit generated a migration the repository lacks; run \`npm run db:generate\`:\n${stdout}`).toEqual(before);
      expect(stdout).toMatch(/No schema changes/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the committed migration journal is consistent (drizzle-kit check)', async () => {
    const bin = join(root, 'node_modules/drizzle-kit/bin.cjs');
    const res = await run(process.execPath, [bin, 'check'], { cwd: root, timeout: 60_000 }).catch((e) => e);
    expect(res.code ?? 0, `${res.stdout}\n${res.stderr}`).toBe(0);
  });
});
