/*
 * Concurrent subscriptions per API key (chatStream, usageRecorded, …), over websockets and SSE alike: the one place
 * they are counted, and listed with the key that opened them so that a key change can end them (open-sessions.ts).
 */
import { getArgumentValues, getOperationAST, getVariableValues, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from '../../context.js';
import { GatewayError } from '../../errors.js';
import type { CancelSignal } from '../../util/cancellation.js';
import type { OpenSessions } from '../open-sessions.js';

interface SubscriptionLimitObserver {
  opened?(field: string, transport: string): void;
  closed?(field: string, transport: string): void;
  refused?(field: string): void;
}

export interface SubscriptionCounter {
  /** Open subscriptions of one key. */
  open(keyId: string): number;
  /** Open subscriptions over all keys. */
  total(): number;
}

export interface SubscriptionLimitOptions {
  observer?: SubscriptionLimitObserver;
  /** Where each running subscription is listed with its key, to be ended when the key no longer allows it. */
  sessions?: OpenSessions;
}

/**
 * Refuses a subscription with RATE_LIMITED (extensions.limit = "subscriptionsPerKey") when its key already holds
 * `max` open ones. Runs inside the envelop pipeline, which websockets (graphql-ws) and HTTP (SSE) share.
 * The slot is taken before the resolver runs and given back exactly once: when the subscription did not start
 * (an error result or a throw), when the source ends, when it fails, when the client ends it (`return()`), when
 * the HTTP client goes away (the request's signal), whether or not anything ever read the stream, or when its key
 * no longer allows it.
 */
export function useSubscriptionLimit(max: number, opts: SubscriptionLimitOptions = {}): Plugin<Context> & { counter: SubscriptionCounter } {
  const { observer = {}, sessions } = opts;
  const perKey = new Map<string, number>();
  let total = 0;

  function acquire(keyId: string): boolean {
    const n = perKey.get(keyId) ?? 0;
    if (n >= max) return false;
    perKey.set(keyId, n + 1);
    total++;
    return true;
  }
  function release(keyId: string): void {
    const n = (perKey.get(keyId) ?? 0) - 1;
    if (n <= 0) perKey.delete(keyId);
    else perKey.set(keyId, n);
    total--;
  }

  return {
    counter: { open: (keyId) => perKey.get(keyId) ?? 0, total: () => total },
    onSubscribe({ args, subscribeFn, setSubscribeFn, setResultAndStopExecution }) {
      const ctx = args.contextValue as Context & { transport?: string };
      const principal = ctx.principal;
      // without a key the resolver answers UNAUTHENTICATED; nothing to count
      if (!principal) return;
      const keyId = principal.key.id;
      const { field, fieldArgs } = rootField(args);
      const transport = ctx.transport === 'ws' ? 'ws' : 'sse';
      if (!acquire(keyId)) {
        observer.refused?.(field);
        setResultAndStopExecution({
          errors: [
            new GatewayError('RATE_LIMITED', `This key already has ${max} open subscriptions (MAX_SUBSCRIPTIONS_PER_KEY); end one before starting another`, {
              limit: 'subscriptionsPerKey',
              max,
              retryAfterMs: 1000,
            }),
          ],
        });
        return;
      }
      observer.opened?.(field, transport);
      let released = false;
      let unlist: (() => void) | undefined;
      const done = () => {
        if (released) return;
        released = true;
        unlist?.();
        release(keyId);
        observer.closed?.(field, transport);
      };
      setSubscribeFn(async (a: ExecutionArgs) => {
        let result: unknown;
        try {
          result = await subscribeFn(a);
        } catch (e) {
          done();
          throw e;
        }
        if (!isAsyncIterable(result)) {
          done();
          return result as ExecutionResult;
        }
        const stream = endable(result as AsyncIterable<ExecutionResult>, done, ctx.signal);
        if (sessions && !released) unlist = sessions.add({ principal, field, args: fieldArgs, model: ctx.invokedModel, end: (error) => stream.end(error) });
        return stream;
      });
    },
  };
}

/** The subscription's root field and its arguments (what a key change is checked against, e.g. the model). */
function rootField(args: ExecutionArgs): { field: string; fieldArgs: Record<string, unknown> } {
  const op = getOperationAST(args.document, args.operationName);
  const first = op?.selectionSet.selections[0];
  if (first?.kind !== 'Field') return { field: 'unknown', fieldArgs: {} };
  const def = args.schema.getSubscriptionType()?.getFields()[first.name.value];
  let fieldArgs: Record<string, unknown> = {};
  try {
    // the arguments as the resolver gets them: variables coerced first, their defaults filled in
    const { coerced } = getVariableValues(args.schema, op!.variableDefinitions ?? [], args.variableValues ?? {});
    if (def && coerced) fieldArgs = getArgumentValues(def, first, coerced);
  } catch {
    // invalid arguments: the resolver refuses them with its own error; nothing to check later
  }
  return { field: first.name.value, fieldArgs };
}

/**
 * The same stream, calling `done` once when it ends, fails or is returned, and which `end(error)` stops from
 * outside: the source is returned and the consumer's next read fails with `error`. Not a generator: `return()`
 * goes straight to the source, so ending a subscription never waits for the next event (graphql-ws#653).
 *
 * An SSE client that leaves before the response is sent leaves a stream nobody will read or return: the
 * Fetch-to-node adapter drops a response whose connection already closed without cancelling its body. So the
 * request's signal returns the stream itself (and with it the upstream call and the slot).
 */
function endable<T>(source: AsyncIterable<T>, done: () => void, signal?: CancelSignal): AsyncIterableIterator<T> & { end(error: unknown): void } {
  return new Endable(source[Symbol.asyncIterator](), done, signal);
}

/** endable()'s stream: one object per subscription, its methods shared (thousands of streams stay open at once). */
class Endable<T> implements AsyncIterableIterator<T> {
  /** Set by `end` until the consumer has been told. */
  private ending: { error: unknown } | undefined;
  private over = false;

  constructor(
    private readonly it: AsyncIterator<T>,
    private done: () => void,
    signal?: CancelSignal,
  ) {
    if (!signal) return;
    const leave = () => void this.return().catch(() => {});
    if (signal.aborted) queueMicrotask(leave);
    else {
      signal.addEventListener('abort', leave, { once: true });
      this.done = () => {
        signal.removeEventListener('abort', leave);
        done();
      };
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(...a: [] | [unknown]): Promise<IteratorResult<T>> {
    if (this.ending) return Promise.resolve().then(() => this.endingError());
    if (this.over) return Promise.resolve({ done: true, value: undefined as T });
    return this.it.next(...a).then(
      (r) => {
        // the source answers a read pending when `end` returned it with done: the consumer gets the error instead
        if (this.ending) this.endingError();
        if (r.done) this.done();
        return r;
      },
      (e) => {
        this.done();
        throw e;
      },
    );
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    this.over = true;
    this.ending = undefined;
    this.done();
    return this.it.return ? this.it.return(value) : Promise.resolve({ done: true, value: value as T });
  }

  throw(e?: unknown): Promise<IteratorResult<T>> {
    this.over = true;
    this.done();
    return this.it.throw ? this.it.throw(e) : Promise.reject(e);
  }

  end(error: unknown): void {
    if (this.over) return;
    this.over = true;
    this.ending = { error };
    this.done();
    void Promise.resolve(this.it.return?.()).catch(() => {});
  }

  /** The error `end` left for the consumer, once. */
  private endingError(): never {
    const { error } = this.ending!;
    this.ending = undefined;
    throw error;
  }
}
