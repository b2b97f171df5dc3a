/* The GraphQL documents of the Access page: model access requests and budget alerts, each as a list and a live feed. */
import { graphql } from '../../graphql';

export const AccessRequestFields = graphql(`
  fragment AccessRequestFields on ModelAccessRequest {
    id
    model
    reason
    status
    decisionNote
    decidedAt
    createdAt
    updatedAt
    team {
      id
      name
    }
  }
`);

export const AccessRequestsQuery = graphql(
  `
    query ConsoleAccessRequests {
      modelAccessRequests {
        ...AccessRequestFields
      }
    }
  `,
  [AccessRequestFields],
);

export const AccessRequestsSubscription = graphql(
  `
    subscription ConsoleAccessRequestsFeed {
      modelAccessRequests {
        ...AccessRequestFields
      }
    }
  `,
  [AccessRequestFields],
);

/** The models a team can ask for: those that require approval, with where its request stands. */
export const ApprovalModelsQuery = graphql(`
  query ConsoleApprovalModels {
    models {
      name
      requiresApproval
      access
    }
  }
`);

export const RequestAccessMutation = graphql(
  `
    mutation ConsoleRequestAccess($input: RequestModelAccessInput!) {
      requestModelAccess(input: $input) {
        ...AccessRequestFields
      }
    }
  `,
  [AccessRequestFields],
);

export const ApproveAccessMutation = graphql(
  `
    mutation ConsoleApproveAccess($id: ID!, $note: String) {
      approveModelAccess(id: $id, note: $note) {
        ...AccessRequestFields
      }
    }
  `,
  [AccessRequestFields],
);

export const RejectAccessMutation = graphql(
  `
    mutation ConsoleRejectAccess($id: ID!, $note: String) {
      rejectModelAccess(id: $id, note: $note) {
        ...AccessRequestFields
      }
    }
  `,
  [AccessRequestFields],
);

export const BudgetAlertFields = graphql(`
  fragment BudgetAlertFields on BudgetAlert {
    id
    subjectKind
    period
    threshold
    budgetUsd
    spentUsd
    createdAt
    team {
      id
      name
    }
    apiKey {
      id
      name
    }
  }
`);

export const BudgetAlertsQuery = graphql(
  `
    query ConsoleBudgetAlerts {
      budgetAlerts(first: 50) {
        ...BudgetAlertFields
      }
    }
  `,
  [BudgetAlertFields],
);

export const BudgetAlertsSubscription = graphql(
  `
    subscription ConsoleBudgetAlertsFeed {
      budgetAlerts {
        ...BudgetAlertFields
      }
    }
  `,
  [BudgetAlertFields],
);
