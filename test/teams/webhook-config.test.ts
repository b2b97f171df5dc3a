/* WEBHOOK_RETRY_BASE_MS, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_TIMEOUT_MS: defaults when unset or empty, refusals naming each. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('webhook delivery settings', () => {
  it('defaults to 1000 ms doubling, 8 tries of 5000 ms, also when set empty', () => {
    for (const value of [undefined, '']) {
      const config = loadConfig({ DATABASE_URL: 'memory://', WEBHOOK_RETRY_BASE_MS: value, WEBHOOK_MAX_ATTEMPTS: value, WEBHOOK_TIMEOUT_MS: value });
      expect(config.webhooks).toEqual({ retryBaseMs: 1000, maxAttempts: 8, timeoutMs: 5000 });
    }
    expect(loadConfig({ DATABASE_URL: 'memory://', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_TIMEOUT_MS: '250' }).webhooks).toEqual({
      retryBaseMs: 50,
      maxAttempts: 3,
      timeoutMs: 250,
    });
  });

  it('refuses values that cannot work, naming every variable at once', () => {
    const load = () => loadConfig({ DATABASE_URL: 'memory://', WEBHOOK_RETRY_BASE_MS: '0', WEBHOOK_MAX_ATTEMPTS: 'many', WEBHOOK_TIMEOUT_MS: '-5' });
    expect(load).toThrow(/WEBHOOK_RETRY_BASE_MS:/);
    expect(load).toThrow(/WEBHOOK_MAX_ATTEMPTS:/);
    expect(load).toThrow(/WEBHOOK_TIMEOUT_MS:/);
  });
});
