/* The GraphQL documents of the Keys page: one fragment for a key's row, the list, and the four changes. */
import { graphql } from '../../graphql';

export const KeyRowFields = graphql(`
  fragment KeyRowFields on ApiKey {
    id
    name
    prefix
    scopes
    allowedModels
    expiresAt
    logBodies
    lastUsedAt
    revokedAt
    createdAt
    team {
      id
      name
    }
    limits {
      requestsPerMinute
      tokensPerMinute
      tokensPerDay
      monthlyBudgetUsd
    }
    monthToDate {
      requests
      costUsd
    }
    limitUsage {
      requestsThisMinute
      tokensThisMinute
      tokensToday
      costThisMonthUsd
    }
  }
`);

export const KeysQuery = graphql(
  `
    query ConsoleKeys {
      apiKeys {
        ...KeyRowFields
      }
      models {
        name
        status
      }
      teams {
        id
        name
      }
    }
  `,
  [KeyRowFields],
);

export const CreateKeyMutation = graphql(
  `
    mutation ConsoleCreateKey($input: CreateApiKeyInput!) {
      createApiKey(input: $input) {
        secret
        apiKey {
          ...KeyRowFields
        }
      }
    }
  `,
  [KeyRowFields],
);

export const UpdateKeyMutation = graphql(
  `
    mutation ConsoleUpdateKey($id: ID!, $input: UpdateApiKeyInput!) {
      updateApiKey(id: $id, input: $input) {
        ...KeyRowFields
      }
    }
  `,
  [KeyRowFields],
);

export const RotateKeyMutation = graphql(
  `
    mutation ConsoleRotateKey($id: ID!) {
      rotateApiKey(id: $id) {
        secret
        apiKey {
          ...KeyRowFields
        }
      }
    }
  `,
  [KeyRowFields],
);

export const RevokeKeyMutation = graphql(
  `
    mutation ConsoleRevokeKey($id: ID!) {
      revokeApiKey(id: $id) {
        ...KeyRowFields
      }
    }
  `,
  [KeyRowFields],
);
