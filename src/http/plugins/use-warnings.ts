/* Warnings collected during execution (e.g. a deprecated model) travel in extensions.warnings. */
import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from '../../context.js';

/** The result with the invocation's warnings (deduplicated) in extensions.warnings. */
export function addWarnings(result: ExecutionResult, warnings: string[]): ExecutionResult {
  if (!warnings.length) return result;
  return { ...result, extensions: { ...(result.extensions ?? {}), warnings: [...new Set(warnings)] } };
}

export function useWarnings(): Plugin<Context> {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult, args }) {
          const ctx = args.contextValue as Context;
          // @defer/@stream: a deferred part may add a warning after the first payload; each payload carries those so far
          if (isAsyncIterable(result)) {
            return { onNext: ({ result: r, setResult: set }) => set(addWarnings(r, ctx.warnings)) };
          }
          if (!ctx.warnings?.length) return;
          setResult(addWarnings(result, ctx.warnings));
        },
      };
    },
    onSubscribe() {
      return {
        onSubscribeResult({ args }) {
          const ctx = args.contextValue as Context;
          // warnings are known once the subscription has started (the model is resolved before the first
          // event); without any, no per-event hook: each one is another layer every chunk goes through
          if (!ctx.warnings?.length) return;
          return { onNext: ({ result, setResult }) => setResult(addWarnings(result, ctx.warnings)) };
        },
      };
    },
  };
}
