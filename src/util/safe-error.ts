/*
 * What a log line may say about an error: its class, code, message and stack frames, and the same for its causes.
 * Nothing else is copied: a failed statement carries its parameters (drizzle puts them in the message and in
 * `params`, postgres.js in `parameters`, PostgreSQL's `detail` quotes row values), and those include key hashes,
 * names and metadata that have no place in a log.
 */
import { GraphQLError } from 'graphql';

interface ErrorSummary {
  type: string;
  message: string;
  code?: string | number;
  status?: number;
  /** The GraphQL field path, for an error raised in a resolver. */
  path?: ReadonlyArray<string | number>;
  stack?: string;
  cause?: ErrorSummary;
  errors?: ErrorSummary[];
}

const MAX_MESSAGE = 2000;
const MAX_CAUSES = 4;
const MAX_AGGREGATED = 5;

/** The message with any statement parameters cut off (drizzle: "Failed query: …\nparams: …"). */
export function safeMessage(err: unknown): string {
  const e = unwrap(err);
  const message = e instanceof Error ? e.message : String(e);
  const params = message.indexOf('\nparams:');
  const cut = params < 0 ? message : `${message.slice(0, params)} (parameters not logged)`;
  return cut.length > MAX_MESSAGE ? `${cut.slice(0, MAX_MESSAGE)}…` : cut;
}

/** A pino serializer for `err`: strings (as some lines log `err.message`) pass as they are. */
export function summarizeError(err: unknown, depth = 0): unknown {
  if (typeof err === 'string' || err == null) return err;
  const path = err instanceof GraphQLError && err.path ? err.path : undefined;
  const e = unwrap(err);
  if (!(e instanceof Error)) return { type: typeof e, message: safeMessage(e) };
  const summary: ErrorSummary = { type: e.constructor?.name || e.name || 'Error', message: safeMessage(e) };
  const { code, status } = e as { code?: unknown; status?: unknown };
  if (typeof code === 'string' || typeof code === 'number') summary.code = code;
  else if (e instanceof GraphQLError && typeof e.extensions?.code === 'string') summary.code = e.extensions.code;
  if (typeof status === 'number') summary.status = status;
  if (path) summary.path = path;
  // the first line of a stack repeats the message; only the frames are kept
  const frames = e.stack?.split('\n').filter((line) => /^\s+at /.test(line));
  if (frames?.length) summary.stack = frames.join('\n');
  if (depth < MAX_CAUSES && e.cause !== undefined) summary.cause = summarizeError(e.cause, depth + 1) as ErrorSummary;
  if (depth < MAX_CAUSES && e instanceof AggregateError) {
    summary.errors = e.errors.slice(0, MAX_AGGREGATED).map((x) => summarizeError(x, depth + 1) as ErrorSummary);
  }
  return summary;
}

/** A GraphQL error raised by a resolver is the resolver's error: describe that one. */
function unwrap(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < MAX_CAUSES && e instanceof GraphQLError && e.originalError; i++) e = e.originalError;
  return e;
}
