/* pino, JSON lines, with every path a secret could travel on redacted. What is logged never includes headers or
 * bodies in the first place (server.ts logs request id, method, path, status and duration); redaction is the backstop. */
import pino, { type Logger } from 'pino';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'graphql-ai-gateway' },
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
