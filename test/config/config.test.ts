/* The environment is parsed once: empty variables count as unset, and every problem is reported together. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('treats an empty or blank variable as unset (defaults apply, optional settings stay off)', () => {
    const config = loadConfig({ GATEWAY_ADMIN_KEY: '', GATEWAY_SECRET: '  ', PORT: '', REDIS_URL: '', OPENAI_API_KEY: '', LOG_LEVEL: '', DATABASE_URL: 'memory://' });
    expect(config.adminKey).toBeUndefined();
    expect(config.secret).toBeUndefined();
    expect(config.http.port).toBe(4000);
    expect(config.redis).toBeUndefined();
    expect(config.providers.openai).toBeUndefined();
    expect(config.logLevel).toBe('info');
  });

  it("WS_KEEPALIVE_MS: graphql-ws's own 12 s unless set, 0 turns the pings off, a negative value is refused", () => {
    expect(loadConfig({ DATABASE_URL: 'memory://' }).graphql.wsKeepAliveMs).toBe(12_000);
    expect(loadConfig({ DATABASE_URL: 'memory://', WS_KEEPALIVE_MS: '60000' }).graphql.wsKeepAliveMs).toBe(60_000);
    expect(loadConfig({ DATABASE_URL: 'memory://', WS_KEEPALIVE_MS: '0' }).graphql.wsKeepAliveMs).toBe(0);
    expect(() => loadConfig({ DATABASE_URL: 'memory://', WS_KEEPALIVE_MS: '-1' })).toThrow(/WS_KEEPALIVE_MS/);
  });

  it('still refuses a value that is set but invalid, naming every variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ GATEWAY_ADMIN_KEY: 'short', PORT: 'x', DATABASE_URL: 'memory://' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toMatch(/GATEWAY_ADMIN_KEY: must be at least 16 characters/);
    expect(String((error as Error).message)).toMatch(/PORT:/);
  });

  it('refuses CACHE_MEMORY_MAX_BYTES=0 with a message naming it, rather than failing to start the memory store', () => {
    expect(() => loadConfig({ CACHE_MEMORY_MAX_BYTES: '0', DATABASE_URL: 'memory://' })).toThrow(/CACHE_MEMORY_MAX_BYTES: must be at least 1 byte/);
    expect(loadConfig({ CACHE_MEMORY_MAX_BYTES: '1', DATABASE_URL: 'memory://' }).cache.memoryMaxBytes).toBe(1);
  });

  it('takes PGLITE_SHARED_BUFFERS as a Postgres size and refuses anything else, naming it', () => {
    expect(loadConfig({ PGLITE_SHARED_BUFFERS: '64MB' }).db.pgliteSharedBuffers).toBe('64MB');
    expect(loadConfig({ PGLITE_SHARED_BUFFERS: '' }).db.pgliteSharedBuffers).toBeUndefined();
    // a value Postgres would refuse only when the database thread starts, or one that would add a second `-c`
    for (const bad of ['64', '64 MB', '1TB', '16MB -c fsync=on']) {
      expect(() => loadConfig({ PGLITE_SHARED_BUFFERS: bad })).toThrow(/PGLITE_SHARED_BUFFERS: must be a size like 16MB/);
    }
    // below Postgres' floor of 128kB
    for (const small of ['0MB', '8kB', '127kB']) {
      expect(() => loadConfig({ PGLITE_SHARED_BUFFERS: small })).toThrow(/PGLITE_SHARED_BUFFERS: must be at least 128kB/);
    }
    expect(loadConfig({ PGLITE_SHARED_BUFFERS: '128kB' }).db.pgliteSharedBuffers).toBe('128kB');
  });

  it('refuses a malformed OTLP header or an endpoint that is not an http(s) URL, naming the variable', () => {
    const refused = (env: Record<string, string>): string => {
      try {
        loadConfig({ DATABASE_URL: 'memory://', ...env });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${JSON.stringify(env)}`);
    };
    const headers = refused({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%zz' });
    expect(headers).toMatch(/OTEL_EXPORTER_OTLP_HEADERS: .*authorization/);
    // the value may be a secret: it is not repeated
    expect(headers).not.toContain('Bearer');
    expect(refused({ OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign' })).toMatch(/OTEL_EXPORTER_OTLP_HEADERS:/);
    expect(refused({ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' })).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT: must be an http/);
    expect(refused({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toMatch(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:/);

    const ok = loadConfig({ DATABASE_URL: 'memory://', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/', OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20x, x-team = a%2Cb,' });
    expect(ok.tracing).toMatchObject({ url: 'https://collector:4318/v1/traces', headers: { authorization: 'Bearer x', 'x-team': 'a,b' } });
  });
});
