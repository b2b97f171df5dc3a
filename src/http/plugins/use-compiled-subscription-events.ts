/*
 * Subscription events run on compiled code (graphql-jit) instead of @graphql-tools' per-event execution. That
 * execution builds an execution context, memoises field collection in WeakMaps keyed by it and creates an async
 * generator for every event: with 2 000 chatStreams open it took ≈ 13 % of the gateway's CPU, plus the garbage.
 *
 * @graphql-tools still creates the source stream, so everything before the first event (auth, MODEL_RETIRED,
 * limits, variable errors) is answered as before; only the mapping of each event changes. An event whose compiled
 * result carries errors is executed again by @graphql-tools, so errors keep their reference shape (original
 * error, path) for masking and error codes. graphql-jit's own `subscribe` is not used: it drops the original of
 * an error thrown by the stream, which masking then hides, and it fails subscriptions over SSE.
 */
import { execute } from '@graphql-tools/executor';
import { handleMaybePromise, mapAsyncIterator } from '@whatwg-node/promise-helpers';
import { GraphQLError, getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  v != null && typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';

/** The source stream each subscription's `subscribe` resolver returned, by the operation's context. */
const sources = new WeakMap<object, AsyncIterable<unknown>>();
const capturing = new WeakSet<GraphQLSchema>();

/** Wraps every `subscribe` resolver of the schema once, to keep the stream it returns for the mapping below. */
function captureSources(schema: GraphQLSchema): void {
  if (capturing.has(schema)) return;
  capturing.add(schema);
  const fields = schema.getSubscriptionType()?.getFields() ?? {};
  for (const field of Object.values(fields)) {
    const subscribe = field.subscribe;
    if (!subscribe) continue;
    const keep = (ctx: unknown, stream: unknown) => {
      if (ctx && typeof ctx === 'object' && isAsyncIterable(stream)) sources.set(ctx, stream);
      return stream;
    };
    field.subscribe = (root, args, ctx, info) => {
      const stream = subscribe(root, args, ctx, info) as unknown;
      return stream instanceof Promise ? stream.then((s) => keep(ctx, s)) : keep(ctx, stream);
    };
  }
}

/** What @graphql-tools makes of an error thrown by the source stream. */
function wrapError(error: unknown, operation: OperationDefinitionNode): Error {
  const e = error instanceof Error ? error : new Error(String(error));
  return new GraphQLError(e.message, { originalError: e, nodes: [operation] });
}

export interface CompiledSubscriptionEventsOptions {
  /** A document graphql-jit could not compile: its subscriptions keep @graphql-tools' execution. */
  onCompileError?(errors: readonly unknown[]): void;
  /** An event whose compiled result had errors, executed again by @graphql-tools. */
  onReexecuted?(): void;
}

export function useCompiledSubscriptionEvents(opts: CompiledSubscriptionEventsOptions = {}): Plugin {
  const compiled = new WeakMap<DocumentNode, Map<string | undefined, CompiledQuery | null>>();

  function compiledFor(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): CompiledQuery | null {
    let byName = compiled.get(document);
    if (!byName) compiled.set(document, (byName = new Map()));
    let c = byName.get(operationName);
    if (c === undefined) {
      const out = compileQuery(schema, document, operationName ?? undefined);
      c = isCompiledQuery(out) ? out : null;
      if (!c) opts.onCompileError?.((out as ExecutionResult).errors ?? []);
      byName.set(operationName, c);
    }
    return c;
  }

  return {
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      captureSources(args.schema);
      const query = compiledFor(args.schema, args.document, args.operationName ?? undefined);
      const operation = getOperationAST(args.document, args.operationName);
      if (!query || !operation) return;
      setSubscribeFn(async (a: ExecutionArgs) => {
        const result = await subscribeFn(a);
        const ctx = a.contextValue as object;
        const source = sources.get(ctx);
        sources.delete(ctx);
        // @graphql-tools' mapped stream is dropped unread: it is lazy, and it holds the same iterator (abort signal
        // hook included) as long as the source is its own iterator, as generators, Repeaters and channels are
        if (!source || !isAsyncIterable(result) || (source[Symbol.asyncIterator]() as unknown) !== source) return result;
        const runEvent = (payload: unknown) =>
          handleMaybePromise(
            () => query.query(payload, a.contextValue, a.variableValues ?? {}),
            (r: ExecutionResult) => {
              if (!r.errors?.length) return r;
              opts.onReexecuted?.();
              return execute({ ...a, rootValue: payload }) as ExecutionResult | Promise<ExecutionResult>;
            },
          );
        return mapAsyncIterator(source, runEvent, (error: unknown) => {
          if (error instanceof AggregateError) {
            throw new AggregateError(error.errors.map((e) => wrapError(e, operation)), error.message);
          }
          throw wrapError(error, operation);
        });
      });
    },
  };
}
