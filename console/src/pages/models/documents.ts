/* The GraphQL documents of the Providers and models page. */
import { graphql } from '../../graphql';

export const ProviderFields = graphql(`
  fragment ProviderFields on Provider {
    id
    name
    kind
    baseUrl
    enabled
    hasCredential
    settings {
      apiVersion
      authScheme
      region
      project
    }
  }
`);

export const ModelFields = graphql(`
  fragment ModelFields on Model {
    id
    name
    description
    status
    strategy
    fallbacks
    timeoutMs
    inputPricePerMTok
    outputPricePerMTok
    priceSource
    priceCatalogueVersion
    contextWindow
    requiresApproval
    logBodies
    targets {
      provider {
        name
      }
      upstreamModel
      priority
      weight
      healthy
    }
  }
`);

export const CatalogueQuery = graphql(
  `
    query ConsoleCatalogue {
      providers {
        ...ProviderFields
      }
      models {
        ...ModelFields
      }
    }
  `,
  [ProviderFields, ModelFields],
);

export const CreateProviderMutation = graphql(
  `
    mutation ConsoleCreateProvider($input: CreateProviderInput!) {
      createProvider(input: $input) {
        ...ProviderFields
      }
    }
  `,
  [ProviderFields],
);

export const UpdateProviderMutation = graphql(
  `
    mutation ConsoleUpdateProvider($name: String!, $input: UpdateProviderInput!) {
      updateProvider(name: $name, input: $input) {
        ...ProviderFields
      }
    }
  `,
  [ProviderFields],
);

export const DeleteProviderMutation = graphql(`
  mutation ConsoleDeleteProvider($name: String!) {
    deleteProvider(name: $name)
  }
`);

export const CreateModelMutation = graphql(
  `
    mutation ConsoleCreateModel($input: CreateModelInput!) {
      createModel(input: $input) {
        ...ModelFields
      }
    }
  `,
  [ModelFields],
);

export const UpdateModelMutation = graphql(
  `
    mutation ConsoleUpdateModel($name: String!, $input: UpdateModelInput!) {
      updateModel(name: $name, input: $input) {
        ...ModelFields
      }
    }
  `,
  [ModelFields],
);

export const DeleteModelMutation = graphql(`
  mutation ConsoleDeleteModel($name: String!) {
    deleteModel(name: $name)
  }
`);
