/* pino, JSON lines, with every path a secret could travel on redacted. What is logged never includes headers or
 * bodies in the first place (server.ts logs request id, method, path, status and duration); redaction is the backstop.
 * Errors are logged as a summary (src/util/safe-error.ts): never the parameters of a failed statement. */
import pino, { type Logger } from 'pino';
import { safeMessage, summarizeError } from './util/safe-error.js';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'graphql-ai-gateway' },
      serializers: { err: summarizeError },
      hooks: {
        // pino takes a line's message from a bare error's (or `{ err }`'s) message, parameters and all
        logMethod(args, method) {
          const [first, second] = args as unknown[];
          const obj = first instanceof Error ? { err: first } : first;
          const err = obj && typeof obj === 'object' ? (obj as { err?: unknown }).err : undefined;
          if (err instanceof Error && typeof second !== 'string') return method.apply(this, [obj, safeMessage(err), ...args.slice(1)] as never);
          if (obj !== first) return method.apply(this, [obj, ...args.slice(1)] as never);
          return method.apply(this, args);
        },
      },
      redact: {
        paths: [
          'authorization',
          '*.authorization',
          'headers.authorization',
          '*.headers.authorization',
          'req.headers.authorization',
          'apiKey',
          '*.apiKey',
          'secret',
          '*.secret',
          'credential',
          '*.credential',
          'connectionParams',
          '*.connectionParams',
          'x-api-key',
          '*["x-api-key"]',
          '*["x-goog-api-key"]',
          '*.headers["x-api-key"]',
          '*.headers["x-goog-api-key"]',
          'cookie',
          '*.cookie',
          '*.headers.cookie',
          'token',
          '*.token',
          'password',
          '*.password',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
