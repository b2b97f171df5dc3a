/* The container layout (Dockerfile, compose.yaml) and the HAProxy configuration, checked without Docker (not
 * installed here): the image builds from files that exist and are not ignored, runs as a non-root user with a
 * health check that works; compose runs three instances with a spool volume each behind HAProxy with the very
 * configuration `npm run cluster` renders, and the drain timings agree with HAProxy's detection time. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findHaproxy, HAPROXY_TEMPLATE, renderHaproxyConfig } from '../../scripts/cluster-haproxy.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const HAPROXY = findHaproxy();

/** `yaml` arrives with openapi3-ts, a dependency's dependency: not one of ours to list, so it is loaded by a name
 * the dependency checker does not follow. */
const YAML_PACKAGE = 'yaml';
async function parseYaml(text: string): Promise<Record<string, unknown>> {
  const { parse } = (await import(YAML_PACKAGE)) as { parse(text: string, opts: { merge: boolean }): Record<string, unknown> };
  // compose files use YAML 1.1 merge keys (<<: *gateway)
  return parse(text, { merge: true });
}

interface Stage {
  from: string;
  name?: string;
  lines: string[];
}

/** Dockerfile → stages, with continuation lines joined. */
function dockerStages(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ from: from[1], name: from[2], lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

/** The servers and directives of the template's backend. */
function backendOf(cfg: string) {
  const servers = [...cfg.matchAll(/^\s*server\s+(\S+)\s+(\S+)/gm)].map((m) => ({ name: m[1], address: m[2] }));
  const inter = /default-server[^\n]*\binter\s+(\d+)ms/.exec(cfg);
  const fall = /default-server[^\n]*\bfall\s+(\d+)/.exec(cfg);
  return { servers, detectionMs: Number(inter?.[1]) * Number(fall?.[1]) };
}

describe('the HAProxy configuration', () => {
  const template = readFileSync(HAPROXY_TEMPLATE, 'utf8');

  it('checks /readyz fast, tunnels websockets and retries only connection failures', () => {
    expect(template).toMatch(/^\s*mode http$/m);
    expect(template).toMatch(/^\s*option httpchk GET \/readyz$/m);
    expect(template).toMatch(/^\s*http-check expect status 200$/m);
    expect(template).toMatch(/default-server check inter 500ms .*fall 2 rise 2/);
    expect(template).toMatch(/^\s*timeout tunnel 1h$/m);
    expect(template).toMatch(/^\s*option redispatch/m);
    // a request that reached an instance is never sent again
    expect(template.match(/^\s*retry-on (.*)$/m)?.[1]).toBe('conn-failure');
    // on every answer, HAProxy's own 502s for a call its instance dropped included
    expect(template).toMatch(/^\s*http-after-response set-header x-gateway-instance %s$/m);
  });

  it('renders for npm run cluster with only the marked blocks changed', () => {
    const rendered = renderHaproxyConfig({
      bind: '127.0.0.1:18080',
      statsBind: '127.0.0.1:18404',
      servers: [
        { name: 'gw0', address: '127.0.0.1:14000' },
        { name: 'gw1', address: '127.0.0.1:14001' },
      ],
    });
    expect(backendOf(rendered).servers).toEqual([
      { name: 'gw0', address: '127.0.0.1:14000' },
      { name: 'gw1', address: '127.0.0.1:14001' },
    ]);
    expect(rendered).toMatch(/^\s*bind 127\.0\.0\.1:18080$/m);
    expect(rendered).toMatch(/^\s*bind 127\.0\.0\.1:18404$/m);
    expect(rendered).not.toMatch(/^resolvers |resolvers docker|gateway-\d/m);
    // outside the blocks, line for line the same
    const outside = (cfg: string) => cfg.replace(/^\s*# BEGIN (.*)\n[\s\S]*?^\s*# END \1$/gm, '<$1>');
    expect(outside(rendered)).toBe(outside(template));
  });

  it.skipIf(!HAPROXY)('is accepted by haproxy -c, as the template and as rendered', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-haproxy-check-'));
    try {
      const file = join(dir, 'haproxy.cfg');
      writeFileSync(file, renderHaproxyConfig({ bind: '127.0.0.1:18080', statsBind: '127.0.0.1:18404', servers: [{ name: 'gw0', address: '127.0.0.1:14000' }] }));
      for (const cfg of [file, HAPROXY_TEMPLATE]) {
        const check = spawnSync(HAPROXY!, ['-c', '-f', cfg], { encoding: 'utf8' });
        expect(check.status, check.stderr).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Dockerfile', () => {
  const stages = dockerStages(read('Dockerfile'));
  const runtime = stages.at(-1)!;
  const instruction = (stage: Stage, name: string) => stage.lines.filter((l) => l.toUpperCase().startsWith(`${name} `));

  it('builds in one stage and runs, with production dependencies only, as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.some((s) => s.lines.includes('RUN npm run build'))).toBe(true);
    expect(stages.some((s) => s.lines.some((l) => /^RUN npm ci --omit=dev\b/.test(l)))).toBe(true);
    const users = instruction(runtime, 'USER');
    expect(users.at(-1)).toBe('USER node');
    expect(instruction(runtime, 'STOPSIGNAL')).toEqual(['STOPSIGNAL SIGTERM']);
    expect(instruction(runtime, 'VOLUME').join()).toContain('/app/.data');
    expect(instruction(runtime, 'EXPOSE')).toEqual(['EXPOSE 4000']);
    expect(instruction(runtime, 'ENV').join(' ')).toMatch(/\bPORT=4000\b/);
    expect(instruction(runtime, 'CMD').join()).toContain('scripts/start.mjs');
    // what the runtime copies from the build stage is the build, not the sources
    const fromBuild = instruction(runtime, 'COPY').filter((l) => /--from=build\b/.test(l));
    expect(fromBuild).toEqual(['COPY --from=build /app/dist ./dist']);
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const sources = stages.flatMap((s) =>
      instruction(s, 'COPY')
        .filter((l) => !l.includes('--from='))
        .flatMap((l) => l.split(/\s+/).slice(1, -1)),
    );
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) {
      expect(existsSync(join(ROOT, src)), src).toBe(true);
      expect(ignored.filter((i) => src === i || src.startsWith(`${i}/`)), src).toEqual([]);
    }
    // scripts/start.mjs imports the pointer module, and nothing else of scripts/
    expect([...read('scripts/start.mjs').matchAll(/from '\.\/(.*?)'/g)].map((m) => `scripts/${m[1]}`)).toEqual(['scripts/dist-pointer.mjs']);
    expect(sources).toEqual(expect.arrayContaining(['scripts/start.mjs', 'scripts/dist-pointer.mjs']));
  });

  it('has a HEALTHCHECK on /readyz that needs only node, and fails on a 503', async () => {
    const line = instruction(runtime, 'HEALTHCHECK')[0];
    expect(line).toBeDefined();
    const cmd = JSON.parse(/CMD\s+(\[.*\])$/.exec(line)![1]) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    let status = 200;
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url!);
      res.writeHead(status).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = String((server.address() as { port: number }).port);
    const run = () =>
      new Promise<number | null>((resolve) => spawn(process.execPath, cmd.slice(1), { env: { ...process.env, PORT: port }, stdio: 'ignore' }).on('exit', resolve));
    try {
      expect(await run()).toBe(0);
      status = 503;
      expect(await run()).toBe(1);
      expect(paths).toEqual(['/readyz', '/readyz']);
    } finally {
      server.close();
    }
  });
});

describe('compose.yaml', () => {
  it('runs PostgreSQL 15, Redis 7, three instances with a spool volume each, and HAProxy with deploy/haproxy.cfg', async () => {
    const compose = (await parseYaml(read('compose.yaml'))) as {
      services: Record<string, { image?: string; build?: string; volumes?: string[]; ports?: string[]; environment?: Record<string, string>; stop_grace_period?: string }>;
    };
    const s = compose.services;
    expect(s.postgres.image).toBe('postgres:15');
    expect(s.redis.image).toMatch(/^redis:7/);
    expect(s.haproxy.image).toMatch(/^haproxy:2\./);

    const gateways = Object.keys(s).filter((n) => s[n].build === '.');
    expect(gateways).toHaveLength(3);
    const spools = gateways.map((n) => s[n].volumes?.find((v) => v.endsWith(':/app/.data'))?.split(':')[0]);
    expect(new Set(spools).size).toBe(3);
    for (const n of gateways) {
      const env = s[n].environment!;
      expect(new URL(env.DATABASE_URL).hostname).toBe('postgres');
      expect(new URL(env.REDIS_URL).hostname).toBe('redis');
      expect(env.GATEWAY_SECRET).toMatch(/^\$\{GATEWAY_SECRET:\?/);
      // HAProxy must have taken a draining instance out before its listener closes; docker stop waits the whole grace
      expect(Number(env.SHUTDOWN_DRAIN_DELAY_MS)).toBeGreaterThan(backendOf(read('deploy/haproxy.cfg')).detectionMs);
      expect(parseInt(s[n].stop_grace_period!, 10) * 1000).toBeGreaterThan(Number(env.SHUTDOWN_GRACE_MS));
    }

    // HAProxy's servers are exactly the gateway services, on the port the image exposes
    expect(s.haproxy.volumes).toContain('./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
    const { servers } = backendOf(read('deploy/haproxy.cfg'));
    expect(servers.map((x) => x.address).sort()).toEqual(gateways.map((n) => `${n}:4000`).sort());
    const bind = /# BEGIN bind\n\s*bind :(\d+)/.exec(read('deploy/haproxy.cfg'))![1];
    expect(s.haproxy.ports).toContain(`${bind}:${bind}`);
  });
});
