/*
 * Subscription events run on compiled code (graphql-jit) instead of @graphql-tools' per-event execution. That
 * execution builds an execution context, memoises field collection in WeakMaps keyed by it and creates an async
 * generator for every event: with thousands of chatStreams open that was a large share of the gateway's CPU, plus
 * the garbage (figures in bench/README.md).
 *
 * @graphql-tools still creates the source stream, so everything before the first event (auth, MODEL_RETIRED,
 * limits, variable errors) is answered as before; only the mapping of each event changes. An event whose compiled
 * result carries errors is executed again by @graphql-tools, so errors keep their reference shape (original
 * error, path) for masking and error codes. graphql-jit's own `subscribe` is not used: it drops the original of
 * an error thrown by the stream, which masking then hides, and it fails subscriptions over SSE.
 */
import { execute } from '@graphql-tools/executor';
import { handleMaybePromise, isPromise, mapAsyncIterator } from '@whatwg-node/promise-helpers';
import { GraphQLError, getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

/** Two streams captured for one context: which belongs to which operation is unknown, so neither is mapped here. */
const CLASH = Symbol('clash');
/** The source stream each subscription's `subscribe` resolver returned, by the operation's context. */
const sources = new WeakMap<object, AsyncIterable<unknown> | typeof CLASH>();
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
      if (ctx && typeof ctx === 'object' && isAsyncIterable(stream)) sources.set(ctx, sources.has(ctx) ? CLASH : stream);
      return stream;
    };
    field.subscribe = (root, args, ctx, info) => {
      const stream = subscribe(root, args, ctx, info) as unknown;
      return isPromise(stream) ? stream.then((s) => keep(ctx, s)) : keep(ctx, stream);
    };
  }
}

/** A source that is its own iterator (generators, Repeaters, channels): @graphql-tools holds the very same one. */
function selfIterating(source: AsyncIterable<unknown>): boolean {
  if (typeof (source as { next?: unknown }).next !== 'function') return false;
  return (source[Symbol.asyncIterator]() as unknown) === source;
}

/**
 * graphql-jit coerces the variables again for every event, where @graphql-tools coerced them once: the cost grows
 * with the number of values. Past this many (a conversation of about 50 messages) the compiled path would cost
 * more than it saves, and the subscription keeps @graphql-tools (the measurements are in bench/README.md).
 */
const MAX_VARIABLE_VALUES = 150;

/** Values in `v`, counting objects, arrays and leaves, stopping once `budget` is spent. */
function countValues(v: unknown, budget: number): number {
  let n = 1;
  if (v === null || typeof v !== 'object') return n;
  for (const x of Array.isArray(v) ? v : Object.values(v)) {
    n += countValues(x, budget - n);
    if (n > budget) break;
  }
  return n;
}

/** What @graphql-tools makes of an error thrown by the source stream. */
function wrapError(error: unknown, operation: OperationDefinitionNode): Error {
  const e = error instanceof Error ? error : new Error(String(error));
  return new GraphQLError(e.message, { originalError: e, nodes: [operation] });
}

export interface CompiledSubscriptionEventsOptions {
  /** A document graphql-jit could not compile: its subscriptions keep @graphql-tools' execution. */
  onCompileError?(errors: readonly unknown[]): void;
  /** An event whose compiled result had errors (or whose compiled code threw), executed again by @graphql-tools. */
  onReexecuted?(): void;
  /** A subscription left entirely to @graphql-tools, and why. */
  onFallback?(reason: 'not compiled' | 'large variables' | 'no stream captured' | 'not self-iterating'): void;
}

export function useCompiledSubscriptionEvents(opts: CompiledSubscriptionEventsOptions = {}): Plugin {
  const compiled = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string | undefined, CompiledQuery | null>>>();

  function compiledFor(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): CompiledQuery | null {
    let byDocument = compiled.get(schema);
    if (!byDocument) compiled.set(schema, (byDocument = new WeakMap()));
    let byName = byDocument.get(document);
    if (!byName) byDocument.set(document, (byName = new Map()));
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
      if (!query || !operation) return opts.onFallback?.('not compiled');
      if (countValues(args.variableValues ?? {}, MAX_VARIABLE_VALUES) > MAX_VARIABLE_VALUES) return opts.onFallback?.('large variables');
      setSubscribeFn(async (a: ExecutionArgs) => {
        const ctx = a.contextValue as object;
        sources.delete(ctx);
        const result = await subscribeFn(a);
        const source = sources.get(ctx);
        sources.delete(ctx);
        if (!isAsyncIterable(result)) return result;
        if (!source || source === CLASH) {
          opts.onFallback?.('no stream captured');
          return result;
        }
        // @graphql-tools' mapped stream is dropped unread: it is lazy, and it holds this same iterator (abort
        // signal hook included) when the source is its own iterator
        if (!selfIterating(source)) {
          opts.onFallback?.('not self-iterating');
          return result;
        }
        const reexecute = (payload: unknown) => {
          opts.onReexecuted?.();
          // every resolver of this event runs a second time, for the reference shape of its errors
          return execute({ ...a, rootValue: payload }) as ExecutionResult | Promise<ExecutionResult>;
        };
        const runEvent = (payload: unknown) =>
          handleMaybePromise(
            () => query.query(payload, a.contextValue, a.variableValues ?? {}),
            (r: ExecutionResult) => (r.errors?.length ? reexecute(payload) : r),
            () => reexecute(payload),
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
