/*
 * The schema linter: graphql-eslint's schema rules run through ESLint's Node API with the configuration inline, so it
 * depends on no repository-level ESLint config and lints exactly the SDL it is given.
 */
import graphqlPlugin, { parser } from '@graphql-eslint/eslint-plugin';
import { ESLint, type Linter } from 'eslint';

const { configs } = graphqlPlugin;

const SCHEMA_RULES: Linter.RulesRecord = {
  ...configs['flat/schema-recommended'].rules,
  ...configs['flat/schema-relay'].rules,
  // every definition a client sees explains itself, down to arguments, input fields and enum values
  '@graphql-eslint/require-description': [
    'error',
    { types: true, rootField: true, FieldDefinition: true, InputValueDefinition: true, EnumValueDefinition: true, DirectiveDefinition: true },
  ],
  // value objects (Usage, KeyLimits, PageInfo, ToolCall…) have no identity of their own to give an id
  '@graphql-eslint/strict-id-in-types': 'off',
  // the contract's plain lists (models, prompts, usageSummary…) are not connections, so a list may wrap any type;
  // an edge's node must implement Node (refetchable by its id)
  '@graphql-eslint/relay-edge-types': ['error', { listTypeCanWrapOnlyEdgeType: false, shouldImplementNode: true }],
  // every connection pages both ways: first/after and last/before
  '@graphql-eslint/relay-arguments': ['error', { includeBoth: true }],
};

/** Every problem the linter finds in `sdl`, one line each: `line:column message (rule)`. */
export async function lintSchema(sdl: string): Promise<string[]> {
  const eslint = new ESLint({
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.graphql'],
        languageOptions: { parser, parserOptions: { schemaSdl: sdl } },
        plugins: { '@graphql-eslint': graphqlPlugin as unknown as ESLint.Plugin },
        rules: SCHEMA_RULES,
      },
    ],
  });
  const [result] = await eslint.lintText(sdl, { filePath: 'schema.graphql' });
  return result.messages.map((m) => `${m.line}:${m.column} ${m.message} (${m.ruleId ?? 'parser'})`);
}
