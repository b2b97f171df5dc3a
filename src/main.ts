/* Entry point: config → app → listen; SIGTERM/SIGINT → graceful stop. */
import { ConfigError, loadConfig } from './config.js';
import { createDatabase } from './db/client.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  // the embedded database starts in its own thread while this one loads the rest of the app: on two cores, the
  // start-up takes the longer of the two instead of their sum
  const database = createDatabase(config.db);
  // its failure is createApp's to report (it awaits it); meanwhile it is not an unhandled rejection
  database.catch(() => {});
  const { createApp } = await import('./app.js');
  const app = await createApp(config, { database });
  const url = await app.start();
  // stdout carries only the JSON log lines (`npm start | jq`); what a person reads goes to stderr
  if (app.bootstrapAdminSecret) {
    // printed once, never logged: only its hash is stored
    process.stderr.write(
      `\n  First start: created an ADMIN key. Store it now, it will not be shown again:\n\n    ${app.bootstrapAdminSecret}\n\n`,
    );
  }
  process.stderr.write(`  GraphQL AI gateway on ${url}/graphql (GraphiQL in a browser)\n`);
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(1);
    app.services.log.info({ signal }, 'shutting down');
    app.stop(app.config.shutdown.graceMs, app.config.shutdown.drainDelayMs).then(
      () => process.exit(0),
      (err) => {
        app.services.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
