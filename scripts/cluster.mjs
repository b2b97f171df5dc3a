/*
 * npm run cluster: CLUSTER_INSTANCES gateways (default 3) on one PostgreSQL and one Redis behind HAProxy, on this
 * machine. Ctrl-C drains every instance (SIGTERM), waits for them, then stops HAProxy.
 *
 * GATEWAY_SECRET encrypts stored provider credentials: every instance, and every later run, must use the same one,
 * so when it is not set the first run generates it and keeps it in .data/cluster/secret. The admin key likewise
 * (GATEWAY_ADMIN_KEY, else .data/cluster/admin-key, readable by its owner only), printed on the run that creates it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { startCluster } from './cluster-lib.mjs';
import { findHaproxy } from './cluster-haproxy.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STATE = join(ROOT, '.data', 'cluster');

// an empty variable counts as unset, as in src/config.ts
const env = (name, fallback) => process.env[name] || fallback;

function fail(message) {
  process.stderr.write(`\n  npm run cluster: ${message}\n\n`);
  process.exit(1);
}

/** The value of `name` from the environment, else from .data/cluster/<file>, else a new one written there. */
function persisted(name, file, generate) {
  if (process.env[name]) return { value: process.env[name], created: false };
  const path = join(STATE, file);
  if (existsSync(path)) return { value: readFileSync(path, 'utf8').trim(), created: false };
  const value = generate();
  mkdirSync(STATE, { recursive: true });
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return { value, created: true };
}

async function checkPostgres(url) {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (e) {
    fail(`PostgreSQL is unreachable at ${url.replace(/\/\/[^@/]*@/, '//…@')}: ${e.message}\n  Set DATABASE_URL, or start PostgreSQL.`);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

async function checkRedis(url) {
  const redis = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 5000 });
  // the connection's own error (ECONNREFUSED …) says more than the rejected connect() ("Connection is closed")
  let cause;
  redis.on('error', (e) => (cause ??= e));
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    fail(`Redis is unreachable at ${url}: ${(cause ?? e).message}\n  Set REDIS_URL, or start redis-server.`);
  } finally {
    redis.disconnect();
  }
}

async function main() {
  const instances = Number(env('CLUSTER_INSTANCES', '3'));
  const port = Number(env('CLUSTER_PORT', '8080'));
  if (!Number.isInteger(instances) || instances < 1) fail('CLUSTER_INSTANCES must be a whole number ≥ 1');
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('CLUSTER_PORT must be a port number');
  const databaseUrl = env('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/postgres');
  const redisUrl = env('REDIS_URL', 'redis://127.0.0.1:6379');
  if (!findHaproxy()) fail('haproxy is not installed. On Debian/Ubuntu: apt-get install haproxy');
  await checkPostgres(databaseUrl);
  await checkRedis(redisUrl);

  const secret = persisted('GATEWAY_SECRET', 'secret', () => randomBytes(32).toString('base64url'));
  const adminKey = persisted('GATEWAY_ADMIN_KEY', 'admin-key', () => `gw_${randomBytes(24).toString('base64url')}`);
  const logDir = join(STATE, 'logs');
  process.stderr.write(`  Starting ${instances} instance(s) and HAProxy…\n`);
  let cluster;
  try {
    cluster = await startCluster({
      instances,
      port,
      databaseUrl,
      redisUrl,
      env: { GATEWAY_SECRET: secret.value, GATEWAY_ADMIN_KEY: adminKey.value },
      spoolRoot: join(STATE, 'spool'),
      logDir,
      // the terminal's Ctrl-C reaches this process only: the instances drain in order, HAProxy stops last
      detached: true,
      // an instance's stderr is meant for a person (its banner, fatal errors); its JSON log lines stay in logDir
      onLine: (line, from) => {
        if (from.stream === 'stderr' && from.name !== 'haproxy' && line.trim() && !/GraphQL AI gateway on/.test(line)) {
          process.stderr.write(`  [${from.name}] ${line}\n`);
        }
      },
    });
  } catch (e) {
    fail(`${e.message}\n  Logs: ${relative(process.cwd(), logDir)}/`);
  }

  const lines = [
    '',
    `  GraphQL AI gateway cluster on ${cluster.url}/graphql (HAProxy, ${instances} instance(s))`,
    ...cluster.instances.map((i) => `    ${i.name}  ${i.url}  pid ${i.pid}  spool ${relative(process.cwd(), i.spoolDir)}`),
    `  HAProxy stats: ${cluster.haproxy.statsUrl}/`,
    `  Logs: ${relative(process.cwd(), logDir)}/ (gw0.log …, haproxy.log)`,
  ];
  if (secret.created) lines.push(`  Generated GATEWAY_SECRET, kept in ${relative(process.cwd(), join(STATE, 'secret'))}: every run must use it.`);
  const keyFile = relative(process.cwd(), join(STATE, 'admin-key'));
  if (adminKey.created) lines.push('', `  First start: created an ADMIN key (GATEWAY_ADMIN_KEY, kept in ${keyFile}, readable by you only):`, '', `    ${adminKey.value}`);
  else if (!process.env.GATEWAY_ADMIN_KEY) lines.push(`  Admin key: the one in ${keyFile}.`);
  lines.push('', '  Ctrl-C drains and stops every instance, then HAProxy.', '');
  process.stderr.write(lines.join('\n'));

  let stopping = false;
  for (const i of cluster.instances) {
    void i.exited.then(({ code, signal }) => {
      if (!stopping) process.stderr.write(`  [${i.name}] exited (code ${code}, signal ${signal}); HAProxy sends its calls to the others\n`);
    });
  }
  const shutdown = () => {
    if (stopping) {
      // a second Ctrl-C: no more waiting
      for (const i of cluster.instances) void i.kill('SIGKILL');
      void cluster.haproxy.stop().finally(() => process.exit(1));
      return;
    }
    stopping = true;
    process.stderr.write('\n  Draining the instances (Ctrl-C again to kill them)…\n');
    cluster.stop().then(
      () => process.exit(0),
      (e) => fail(`stopping failed: ${e.message}`),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

await main();
