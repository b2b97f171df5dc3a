/* The prompt documents the page uses, and the template type they answer. */
import { StreamChunkFields } from '../../components/stream-chunk-fields';
import { graphql, type ResultOf } from '../../graphql';

export const PromptsQuery = graphql(`
  query ConsolePrompts {
    prompts {
      id
      name
      version
      model
      variables
      createdAt
      messages {
        role
        content
      }
    }
  }
`);

export type PromptVersion = NonNullable<ResultOf<typeof PromptsQuery>['prompts']>[number];

export const CreatePromptMutation = graphql(`
  mutation ConsoleCreatePrompt($input: CreatePromptInput!) {
    createPrompt(input: $input) {
      id
      name
      version
    }
  }
`);

export const PromptStreamSubscription = graphql(`
  subscription ConsolePromptStream($name: String!, $version: Int, $variables: JSON) {
    promptStream(name: $name, version: $version, variables: $variables) {
      ...StreamChunkFields
    }
  }
`, [StreamChunkFields]);

export const PromptModelsQuery = graphql(`
  query ConsolePromptModels {
    models {
      id
      name
      status
    }
  }
`);
