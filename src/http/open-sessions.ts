/*
 * Every open subscription (websockets and SSE) and every open websocket, by the API key that opened it, so that
 * a key revoked, rotated, expired or narrowed can end what it already has open, not only what it asks for next.
 */
import type { GatewayError } from '../errors.js';
import type { Principal } from '../services/keys.js';

export interface OpenSession {
  /** The key as it was when the session was authorised. */
  readonly principal: Principal;
  /** The subscription's root field; absent for a websocket connection itself. */
  readonly field?: string;
  /** The subscription's arguments as it started (e.g. the model a chatStream invokes). */
  readonly args?: Record<string, unknown>;
  /** The model it invokes when its arguments do not name it (a promptStream's prompt's model). */
  readonly model?: string;
  /** Ends the session because its key no longer allows it. */
  end(reason: GatewayError): void;
}

export type OpenSessions = ReturnType<typeof createOpenSessions>;

export function createOpenSessions() {
  const byKey = new Map<string, Set<OpenSession>>();
  return {
    /** Lists a session; the function returned takes it off the list (call it once the session is over). */
    add(session: OpenSession): () => void {
      const id = session.principal.key.id;
      let set = byKey.get(id);
      if (!set) byKey.set(id, (set = new Set()));
      set.add(session);
      return () => {
        const s = byKey.get(id);
        if (!s?.delete(session) || s.size) return;
        byKey.delete(id);
      };
    },
    /** The ids of the keys with something open. */
    keyIds: (): string[] => [...byKey.keys()],
    /** The ids of the keys with something open that authenticated with this secret hash. */
    keyIdsWithHash(secretHash: string): string[] {
      const out: string[] = [];
      for (const [id, set] of byKey) {
        for (const s of set) {
          if (s.principal.key.secretHash !== secretHash) continue;
          out.push(id);
          break;
        }
      }
      return out;
    },
    /** What one key has open now (a copy: ending a session takes it off the list). */
    of: (keyId: string): OpenSession[] => [...(byKey.get(keyId) ?? [])],
  };
}
