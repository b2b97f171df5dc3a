/* pino, with every path a secret could travel on redacted. */
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
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
