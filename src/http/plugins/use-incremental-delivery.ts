/*
 * @defer and @stream (@graphql-yoga/plugin-defer-stream), answered as multipart/mixed or over SSE. Yoga masks and
 * serialises only the top-level `errors` of each payload; the errors of a deferred fragment or a streamed item
 * sit in `incremental[i].errors`, so they are masked, coded and stripped of server-only hints here.
 */
import { BREAK, GraphQLError, Kind, visit, type ASTVisitor, type DirectiveNode, type DocumentNode, type ExecutionResult, type ValidationContext } from 'graphql';
import { useDeferStream } from '@graphql-yoga/plugin-defer-stream';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from '../../context.js';
import { toClientJson, withErrorCode } from './use-error-codes.js';

const INCREMENTAL_DIRECTIVES = new Set(['defer', 'stream']);
const incremental = new WeakMap<DocumentNode, boolean>();

/**
 * Whether a document asks for incremental delivery. Such documents run on graphql-tools' executor (graphql-jit
 * does not know the directives) and always through Yoga's own pipeline, never the fast path.
 */
export function usesIncrementalDelivery(document: DocumentNode): boolean {
  let found = incremental.get(document);
  if (found === undefined) {
    found = false;
    visit(document, {
      Directive(node) {
        if (!INCREMENTAL_DIRECTIVES.has(node.name.value)) return undefined;
        found = true;
        return BREAK;
      },
    });
    incremental.set(document, found);
  }
  return found;
}

/** `@defer(if: false)` and `@stream(if: false)` ask for nothing. */
function switchedOff(directive: DirectiveNode): boolean {
  const on = directive.arguments?.find((a) => a.name.value === 'if')?.value;
  return on?.kind === Kind.BOOLEAN && !on.value;
}

/**
 * A subscription's event is one payload: @defer and @stream in a subscription are refused (as graphql-js 17 does),
 * rather than ignored on one execution path and honoured on another.
 */
function NoIncrementalDeliveryInSubscriptionsRule(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition(operation) {
      if (operation.operation !== 'subscription') return;
      for (const node of [operation, ...context.getRecursivelyReferencedFragments(operation)]) {
        visit(node, {
          Directive(directive) {
            if (!INCREMENTAL_DIRECTIVES.has(directive.name.value) || switchedOff(directive)) return;
            context.reportError(
              new GraphQLError(`@${directive.name.value} is not supported in a subscription: each event is sent whole`, { nodes: directive }),
            );
          },
        });
      }
    },
  };
}

/** A payload after the first: what was deferred or streamed, each part with its own errors. */
interface SubsequentPayload extends ExecutionResult {
  incremental?: ReadonlyArray<{ errors?: ReadonlyArray<GraphQLError>; [key: string]: unknown }>;
  hasNext?: boolean;
}

function shapePayload(payload: SubsequentPayload, shape: (e: GraphQLError) => GraphQLError): SubsequentPayload {
  const parts = payload.incremental;
  const nested = parts?.some((p) => p.errors?.length);
  if (!payload.errors?.length && !nested) return payload;
  return {
    ...payload,
    ...(payload.errors?.length ? { errors: payload.errors.map(shape) } : {}),
    // not touched by Yoga's serialiser: sent as client JSON already
    ...(nested ? { incremental: parts!.map((p) => (p.errors?.length ? { ...p, errors: p.errors.map((e) => toClientJson(shape(e))) } : p)) } : {}),
  } as SubsequentPayload;
}

/**
 * @param maskError Yoga's masking of unexpected errors (the same message, the same log line).
 */
export function useIncrementalDelivery(maskError: (error: GraphQLError) => GraphQLError): Plugin<Context> {
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(useDeferStream() as Plugin<Context>);
    },
    onValidate({ addValidationRule }) {
      addValidationRule(NoIncrementalDeliveryInSubscriptionsRule);
    },
    onExecute() {
      return {
        onExecuteDone({ args, result }) {
          if (!isAsyncIterable(result)) return undefined;
          const requestId = (args.contextValue as Context).requestId;
          // masked before it is coded: Yoga's masking, which runs later, would drop the request id
          const shape = (e: GraphQLError) => withErrorCode(maskError(e), requestId);
          return { onNext: ({ result: payload, setResult }) => setResult(shapePayload(payload as SubsequentPayload, shape)) };
        },
      };
    },
  };
}
