/* WEBHOOK_RETRY_BASE_MS, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_TIMEOUT_MS, WEBHOOK_ALLOW_PRIVATE_ADDRESSES: defaults when unset or empty, refusals naming each. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('webhook delivery settings', () => {
  it('defaults to 1000 ms doubling, 8 tries of 5000 ms, also when set empty', () => {
    for (const value of [undefined, '']) {
      const config = loadConfig({ DATABASE_URL: 'memory://', WEBHOOK_RETRY_BASE_MS: value, WEBHOOK_MAX_ATTEMPTS: value, WEBHOOK_TIMEOUT_MS: value, WEBHOOK_ALLOW_PRIVATE_ADDRESSES: value });
      expect(config.webhooks).toEqual({ retryBaseMs: 1000, maxAttempts: 8, timeoutMs: 5000, allowPrivateAddresses: false });
    }
    expect(
      loadConfig({ DATABASE_URL: 'memory://', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_TIMEOUT_MS: '250', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' }).webhooks,
    ).toEqual({
      retryBaseMs: 50,
      maxAttempts: 3,
      timeoutMs: 250,
      allowPrivateAddresses: true,
    });
  });

  it('refuses values that cannot work, naming every variable at once', () => {
    const load = () => loadConfig({ DATABASE_URL: 'memory://', WEBHOOK_RETRY_BASE_MS: '0', WEBHOOK_MAX_ATTEMPTS: 'many', WEBHOOK_TIMEOUT_MS: '-5', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'maybe' });
    expect(load).toThrow(/WEBHOOK_RETRY_BASE_MS:/);
    expect(load).toThrow(/WEBHOOK_ALLOW_PRIVATE_ADDRESSES:/);
    expect(load).toThrow(/WEBHOOK_MAX_ATTEMPTS:/);
    expect(load).toThrow(/WEBHOOK_TIMEOUT_MS:/);
  });
});
