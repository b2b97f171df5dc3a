/* The chaos test's checks on their own, on made-up calls and records: each one finds what it must find. */
import { describe, expect, it } from 'vitest';
import { answersWithoutOneOkRecord, failuresNotFromKill, rateWindows, type Call } from './chaos-load-kit.js';

const call = (c: Partial<Call>): Call => ({ kind: 'graphql', key: 'free', startedAt: 0, endedAt: 10, ...c });

describe('chaos checks', () => {
  it('answersWithoutOneOkRecord: a missing, a duplicated and a non-OK record are each found; failed calls are not checked', () => {
    const calls = [
      call({ outcome: 'ok', invocationId: 'a' }),
      call({ outcome: 'ok', invocationId: 'b' }),
      call({ outcome: 'ok', invocationId: 'c' }),
      call({ outcome: 'ok', invocationId: 'd' }),
      call({ outcome: 'failed', invocationId: 'e' }),
    ];
    const rec = (id: string, status = 'OK') => ({ id, status, apiKeyId: null, createdAt: new Date(0) });
    const r = answersWithoutOneOkRecord(calls, [rec('a'), rec('c'), rec('c'), rec('d', 'ERROR')]);
    expect(r.missing.map((c) => c.invocationId)).toEqual(['b']);
    expect(r.duplicated).toEqual(['c']);
    expect(r.notOk).toEqual([{ id: 'd', status: 'ERROR' }]);
  });

  it('rateWindows: fixed windows opened by the first admission after the previous one ended', () => {
    const times = [0, 1000, 59_000, 60_000, 61_000, 130_000];
    expect(rateWindows(times, 10)).toEqual([
      { start: 0, admitted: 3 },
      { start: 60_000, admitted: 2 },
      { start: 130_000, admitted: 1 },
    ]);
    // a full window: a call started just before its end was admitted in the next one
    expect(rateWindows([0, 1, 59_800], 2, 60_000, 500)).toEqual([
      { start: 0, admitted: 2 },
      { start: 59_800, admitted: 1 },
    ]);
    // but one well inside it overfills it
    expect(rateWindows([0, 1, 30_000], 2, 60_000, 500)).toEqual([{ start: 0, admitted: 3 }]);
  });

  it('failuresNotFromKill: only failures in flight at the kill, ended soon after, and not answered by another instance', () => {
    const inFlight = call({ outcome: 'failed', startedAt: 900, endedAt: 1200, detail: 'HTTP 502' });
    const other = call({ outcome: 'failed', startedAt: 900, endedAt: 1200, servedBy: 'gw0', detail: 'cut' });
    const late = call({ outcome: 'failed', startedAt: 900, endedAt: 9000, detail: 'timeout' });
    const dying = call({ outcome: 'failed', startedAt: 1100, endedAt: 1300, detail: 'UND_ERR_SOCKET' });
    const after = call({ outcome: 'failed', startedAt: 2000, endedAt: 2100, detail: 'HTTP 503' });
    const oldSocket = call({ kind: 'ws-stream', outcome: 'failed', startedAt: 1100, endedAt: 1150, socketOpenedAt: 500, detail: 'ws closed 1006' });
    const ok = call({ outcome: 'ok', startedAt: 900, endedAt: 1200 });
    const r = failuresNotFromKill([inFlight, other, late, dying, after, oldSocket, ok], {
      at: 1000,
      exitedAt: 1200,
      instance: 'gw1',
      inFlightAtKill: new Set([inFlight, other, late, ok]),
      graceMs: 5000,
    });
    expect(r.excused).toEqual([inFlight, dying, oldSocket]);
    expect(r.unexcused).toEqual([other, late, after]);
  });
});
