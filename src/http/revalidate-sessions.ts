/*
 * Re-authorises open subscriptions and websockets against their key as the database has it now: at once when a
 * key changes (here, or on another instance through the key invalidation channel), and every `intervalMs` for
 * what no broadcast reports (an expiry, a lost message). A session its key no longer allows is ended.
 */
import type { Logger } from 'pino';
import { GatewayError, forbidden } from '../errors.js';
import { subscriptionStillAllowed } from '../schema/subscription-access.js';
import { isUsable, toPrincipal, type KeyService } from '../services/keys.js';
import type { ApiKeyRow } from '../db/schema.js';
import type { OpenSession, OpenSessions } from './open-sessions.js';

export interface RevalidateSessionsOptions {
  sessions: OpenSessions;
  keys: KeyService;
  /** How often every key with something open is read again; KEY_CACHE_TTL_MS, the staleness any request accepts. */
  intervalMs: number;
  log: Logger;
}

/**
 * The key as it is now, with the team (and its grants) it had when the session opened while it is still in that
 * team: the row alone would read as a key without team (a TEAM_ADMIN's team feed would end at the first check). A
 * key moved to another team is judged without one, which never widens what it reads.
 */
function principalNow(session: OpenSession, row: ApiKeyRow) {
  const opened = session.principal;
  const sameTeam = row.teamId != null && row.teamId === opened.team?.id;
  return sameTeam ? toPrincipal(row, opened.team, [...opened.approvedModels]) : toPrincipal(row);
}

/** Why `session` must end, given its key as it is now (undefined: it may go on). */
function refusal(session: OpenSession, row: ApiKeyRow | undefined, now: number): GatewayError | undefined {
  // a rotated key has a new secret: what the old one opened is no longer authenticated
  if (!row || !isUsable(row, now) || row.secretHash !== session.principal.key.secretHash) {
    return new GatewayError('UNAUTHENTICATED', 'The API key of this subscription was revoked, rotated or has expired');
  }
  if (session.field && !subscriptionStillAllowed(session.field, session.principal, principalNow(session, row), session.args, session.model)) {
    return forbidden(`This key may no longer access Subscription.${session.field}`);
  }
  return undefined;
}

export function revalidateSessions(opts: RevalidateSessionsOptions) {
  const { sessions, keys, log } = opts;
  const pending = new Set<string>();
  let running = false;
  /** Set while the keys cannot be read: one warning per outage, not one per round. */
  let failing = false;

  async function run(): Promise<void> {
    running = true;
    try {
      while (pending.size) {
        const ids = [...pending];
        pending.clear();
        let rows: ApiKeyRow[];
        try {
          rows = await keys.byIds(ids);
        } catch (err) {
          // what is open stays open; the next round (at most intervalMs away) tries again
          if (!failing) log.warn({ err }, 'open subscriptions: their keys cannot be read again until the database answers');
          failing = true;
          continue;
        }
        if (failing) log.info('open subscriptions: their keys are read again');
        failing = false;
        const byId = new Map(rows.map((r) => [r.id, r]));
        const now = Date.now();
        for (const id of ids) {
          // subscriptions first: a websocket closed before them would drop their error messages
          const open = sessions.of(id).sort((a, b) => Number(!a.field) - Number(!b.field));
          for (const session of open) {
            const reason = refusal(session, byId.get(id), now);
            if (reason) session.end(reason);
          }
        }
      }
    } finally {
      running = false;
    }
  }

  function check(ids: string[]): void {
    for (const id of ids) pending.add(id);
    if (!running && pending.size) void run();
  }

  const unwatch = keys.watch((secretHash) => check(sessions.keyIdsWithHash(secretHash)));
  const timer = setInterval(() => check(sessions.keyIds()), opts.intervalMs);
  timer.unref();
  return {
    close(): void {
      clearInterval(timer);
      unwatch();
    },
  };
}
