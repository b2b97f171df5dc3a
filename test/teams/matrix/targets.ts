/*
 * What the matrix aims at: team B's objects (global ids by type, names by kind) and what must never reach anyone
 * outside B (its marker, ids, bare UUIDs inside those ids, secrets).
 */
import { decodeGlobalId } from '../../../src/schema/global-id.js';

/** Carried by every string team B owns, so a leak of any of them is found by one search. */
export const B_MARKER = 'zzteamBzz';
/** Carried by the strings team A's principals send, so their own objects are told apart in the summary. */
export const A_MARKER = 'zzteamAzz';

export class Targets {
  /** Node type name → B's global ids of that type. */
  readonly idsByType = new Map<string, string[]>();
  /** Kind (a Node type name, or an argument name such as `user`) → B's names of that kind. */
  readonly namesByKind = new Map<string, string[]>();
  /**
   * A's own objects (Node type name → one id): a write aimed at B through an input (`input.team`) is also tried on
   * A's own object, which must not be moved into B.
   */
  readonly ownIdByType = new Map<string, string>();
  /** Secrets of B (key secrets, webhook secrets): never in any answer to anyone else. */
  readonly secrets: string[] = [];

  addId(type: string, id: string | null | undefined): void {
    if (!id) return;
    const list = this.idsByType.get(type) ?? [];
    if (!list.includes(id)) list.push(id);
    this.idsByType.set(type, list);
  }

  addName(kind: string, name: string): void {
    if (!name.includes(B_MARKER)) throw new Error(`B's ${kind} name "${name}" must carry ${B_MARKER}, or a leak of it goes unseen`);
    const list = this.namesByKind.get(kind) ?? [];
    if (!list.includes(name)) list.push(name);
    this.namesByKind.set(kind, list);
  }

  allIds(): string[] {
    return [...this.idsByType.values()].flat();
  }

  allNames(): string[] {
    return [...new Set([...this.namesByKind.values()].flat())];
  }

  /** Every needle a leak detector looks for, with what it is: B's ids and secrets, and B's marker unless left out. */
  needles(withMarker = true): Array<{ needle: string; what: string }> {
    const out: Array<{ needle: string; what: string }> = withMarker ? [{ needle: B_MARKER.toLowerCase(), what: `B's marker ${B_MARKER}` }] : [];
    for (const [type, ids] of this.idsByType) {
      for (const id of ids) {
        out.push({ needle: id, what: `B's ${type} id ${id}` });
        const bare = decodeGlobalId(id).id;
        if (bare && bare !== id && bare.length >= 8) out.push({ needle: bare, what: `B's ${type} key ${bare} (inside id ${id})` });
      }
    }
    for (const s of this.secrets) out.push({ needle: s, what: `a secret of B (${s.slice(0, 8)}…)` });
    return out;
  }
}
