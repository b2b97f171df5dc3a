/* The playground's form as a ChatInput: empty fields are left out so the provider's defaults apply. */
import type { VariablesOf } from '../../graphql';
import { StreamChunkFields } from '../../components/stream-chunk-fields';
import { graphql } from '../../graphql';
import type { DraftMessage } from '../../components/message-editor';

export const ChatStreamSubscription = graphql(`
  subscription PlaygroundStream($input: ChatInput!) {
    chatStream(input: $input) {
      ...StreamChunkFields
    }
  }
`, [StreamChunkFields]);

export const ChatMutation = graphql(`
  mutation PlaygroundChat($input: ChatInput!) {
    chat(input: $input) {
      id
      finishReason
      latencyMs
      provider
      message {
        content
      }
      usage {
        promptTokens
        completionTokens
        totalTokens
        costUsd
      }
    }
  }
`);

type ChatInput = VariablesOf<typeof ChatMutation>['input'];

/** The sampling fields as typed: text, so a half-typed number is not lost while editing. */
export interface DraftParameters {
  temperature: string;
  maxTokens: string;
  topP: string;
  /** One stop sequence per line */
  stop: string;
}

export const EMPTY_PARAMETERS: DraftParameters = { temperature: '', maxTokens: '', topP: '', stop: '' };

const numberOrNull = (s: string) => (s.trim() === '' ? null : Number(s));
const intOrNull = (s: string) => (s.trim() === '' ? null : Math.trunc(Number(s)));

/** The gateway checks ranges and answers BAD_USER_INPUT naming the field, so the form sends what was typed. */
export function toChatInput(model: string, messages: DraftMessage[], p: DraftParameters): ChatInput {
  const stop = p.stop.split('\n').filter((s) => s !== '');
  return {
    model,
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    temperature: numberOrNull(p.temperature),
    maxTokens: intOrNull(p.maxTokens),
    topP: numberOrNull(p.topP),
    stop: stop.length ? stop : null,
  };
}
