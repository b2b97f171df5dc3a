/* What the console reads of each streamed chunk (chatStream and promptStream alike): one selection for both. */
import { graphql } from '../graphql';

export const StreamChunkFields = graphql(`
  fragment StreamChunkFields on ChatChunk @_unmask {
    invocationId
    delta
    finishReason
    usage {
      promptTokens
      completionTokens
      totalTokens
      costUsd
    }
  }
`);
