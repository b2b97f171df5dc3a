/* The GraphQL-over-HTTP audit of graphql-http against the live gateway's /graphql: every MUST passes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverAudits, type AuditResult } from 'graphql-http';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

let gw: TestGateway;
const results: AuditResult[] = [];
const anonymous: AuditResult[] = [];

beforeAll(async () => {
  gw = await startGateway();
  const fetchFn = (input: RequestInfo | URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${gw.adminKey}`);
    return fetch(input, { ...init, headers, signal: AbortSignal.timeout(10_000) });
  };
  for (const audit of serverAudits({ url: `${gw.url}/graphql`, fetchFn })) results.push(await audit.fn());
  // the audits only ask for { __typename }, which needs no key: the spec holds for anonymous callers too
  const bare = (input: RequestInfo | URL, init: RequestInit = {}) => fetch(input, { ...init, signal: AbortSignal.timeout(10_000) });
  for (const audit of serverAudits({ url: `${gw.url}/graphql`, fetchFn: bare })) anonymous.push(await audit.fn());
});

afterAll(async () => {
  await gw?.stop();
});

const describeFailure = (r: AuditResult) => (r.status === 'ok' ? '' : `${r.status}: ${r.name}: ${r.reason}`);

describe('graphql-http serverAudits against /graphql', () => {
  it('ran the whole audit list', () => {
    expect(results.length).toBeGreaterThan(40);
    expect(results.filter((r) => r.name.startsWith('MUST')).length).toBeGreaterThan(10);
  });

  it('passes every MUST audit', () => {
    const failed = results.filter((r) => r.name.startsWith('MUST') && r.status !== 'ok');
    expect(failed.map(describeFailure)).toEqual([]);
  });

  it('has no audit in error status, whatever its level', () => {
    expect(results.filter((r) => r.status === 'error').map(describeFailure)).toEqual([]);
  });

  it('passes every MUST audit without an Authorization header as well', () => {
    expect(anonymous.length).toBe(results.length);
    expect(anonymous.filter((r) => r.name.startsWith('MUST') && r.status !== 'ok').map(describeFailure)).toEqual([]);
  });

  it('passes every SHOULD audit too (no warnings)', () => {
    expect(results.filter((r) => r.name.startsWith('SHOULD') && r.status !== 'ok').map(describeFailure)).toEqual([]);
  });
});
