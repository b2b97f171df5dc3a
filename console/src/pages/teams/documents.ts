/* The GraphQL documents of the Teams page: a team's row (with its keys, for its detail), the list, and the three changes. */
import { graphql } from '../../graphql';

export const TeamFields = graphql(`
  fragment TeamFields on Team {
    id
    name
    description
    allowedModels
    logBodies
    createdAt
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
    apiKeys {
      id
      name
      prefix
      scopes
      revokedAt
    }
  }
`);

export const TeamsQuery = graphql(
  `
    query ConsoleTeams {
      teams {
        ...TeamFields
      }
    }
  `,
  [TeamFields],
);

/** The models a team may be limited to: only ADMIN asks (it alone edits teams). */
export const TeamModelsQuery = graphql(`
  query ConsoleTeamModels {
    models {
      name
      status
    }
  }
`);

export const CreateTeamMutation = graphql(
  `
    mutation ConsoleCreateTeam($input: CreateTeamInput!) {
      createTeam(input: $input) {
        ...TeamFields
      }
    }
  `,
  [TeamFields],
);

export const UpdateTeamMutation = graphql(
  `
    mutation ConsoleUpdateTeam($id: ID!, $input: UpdateTeamInput!) {
      updateTeam(id: $id, input: $input) {
        ...TeamFields
      }
    }
  `,
  [TeamFields],
);

export const DeleteTeamMutation = graphql(`
  mutation ConsoleDeleteTeam($id: ID!) {
    deleteTeam(id: $id) {
      id
    }
  }
`);
