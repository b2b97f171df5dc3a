/*
 * Responses stored by POST /v1/responses (`store`, OpenAI's default): read back by GET /v1/responses/{id} and
 * continued by `previous_response_id` until they expire. Only the key that created one (or an ADMIN key) sees it;
 * to anyone else it does not exist, as OpenAI answers for another organisation's response.
 *
 * Each row keeps only the messages its own turn added and the id of the response it continued
 * (`conversation` = {previous, messages}); a conversation is read back by walking that chain in one recursive
 * query. Copying the whole conversation into every turn made storage grow with the square of its length (images
 * included). Continuing a response keeps its ancestors as long as it is kept (their expiry moves up to its own).
 */
import { and, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { rowsOf } from '../db/rows-of.js';
import { storedResponses } from '../db/schema.js';
import { badInput } from '../errors.js';
import type { ChatInput } from '../gateway/chat-input.js';
import type { Principal } from './keys.js';

/** The gateway's messages of a conversation, as ChatInput carries them. */
export type StoredConversation = ChatInput['messages'];

/** What one response adds to a conversation: its turn's messages (no `instructions`, which OpenAI does not carry over), after `previous`'s. */
interface StoredTurn {
  previous: string | null;
  messages: StoredConversation;
}

export interface StoredResponse {
  id: string;
  model: string;
  /** The Response object as it was returned. */
  response: Record<string, unknown>;
}

/** A response to continue: its model and every message of its conversation, oldest first, up to its output. */
export interface StoredChain {
  model: string;
  conversation: StoredConversation;
}

/** How many responses one conversation may chain by default: a bound on the recursive read, not a usual length. */
const MAX_CHAIN = 1000;

const turnOf = (c: unknown): StoredTurn => {
  const t = (c ?? {}) as Partial<StoredTurn>;
  return { previous: typeof t.previous === 'string' ? t.previous : null, messages: Array.isArray(t.messages) ? t.messages : [] };
};

export type StoredResponseService = ReturnType<typeof createStoredResponseService>;

export function createStoredResponseService(db: Db, opts: { ttlSeconds: number; maxChain?: number }) {
  const maxChain = opts.maxChain ?? MAX_CHAIN;

  /** The row when it exists, has not expired and the caller may see it. */
  async function find(id: string, principal: Principal) {
    const [row] = await db
      .select()
      .from(storedResponses)
      .where(and(eq(storedResponses.id, id), gt(storedResponses.expiresAt, new Date())))
      .limit(1);
    if (!row) return null;
    if (!principal.isAdmin && row.apiKeyId !== principal.key.id) return null;
    return row;
  }

  /** The rows of `id`'s chain, newest first, at most maxChain + 1 (one more tells the chain is too long). */
  async function chain(id: string): Promise<Array<{ id: string; api_key_id: string | null; model: string; conversation: unknown }>> {
    const now = new Date().toISOString();
    return rowsOf(
      await db.execute(sql`
        with recursive chain(id, api_key_id, model, conversation, depth) as (
          select id, api_key_id, model, conversation, 0 from ${storedResponses} where id = ${id} and expires_at > ${now}::timestamptz
          union all
          select s.id, s.api_key_id, s.model, s.conversation, c.depth + 1
          from ${storedResponses} s join chain c on s.id = c.conversation->>'previous'
          where c.depth < ${maxChain} and s.expires_at > ${now}::timestamptz
        )
        select id, api_key_id, model, conversation from chain order by depth`),
    );
  }

  return {
    /** Stores a response: `previous` is the response it continued (whose chain is then kept as long as this one). */
    async save(r: StoredResponse & StoredTurn, principal: Principal): Promise<void> {
      const now = Date.now();
      const expiresAt = new Date(now + opts.ttlSeconds * 1000);
      const turn: StoredTurn = { previous: r.previous, messages: r.messages };
      await db.insert(storedResponses).values({
        id: r.id,
        apiKeyId: principal.key.id,
        model: r.model,
        conversation: turn,
        response: r.response,
        createdAt: new Date(now),
        expiresAt,
      });
      if (!r.previous) return;
      await db.execute(sql`
        with recursive chain(id, previous, depth) as (
          select id, conversation->>'previous', 0 from ${storedResponses} where id = ${r.previous}
          union all
          select s.id, s.conversation->>'previous', c.depth + 1 from ${storedResponses} s join chain c on s.id = c.previous where c.depth < ${maxChain}
        )
        update ${storedResponses} set expires_at = greatest(expires_at, ${expiresAt.toISOString()}::timestamptz) where id in (select id from chain)`);
    },

    async get(id: string, principal: Principal): Promise<StoredResponse | null> {
      const row = await find(id, principal);
      if (!row) return null;
      return { id: row.id, model: row.model, response: row.response as Record<string, unknown> };
    },

    /**
     * The conversation to continue from `id`, or null when it does not exist for the caller (or a response of its
     * chain was deleted). A chain longer than maxChain is refused, naming `field`.
     */
    async conversation(id: string, principal: Principal, field: string): Promise<StoredChain | null> {
      const rows = await chain(id);
      const head = rows[0];
      if (!head || (!principal.isAdmin && head.api_key_id !== principal.key.id)) return null;
      if (rows.length > maxChain) throw badInput(field, `the conversation is longer than ${maxChain} responses; start a new one`);
      const turns = rows.map((r) => turnOf(r.conversation));
      // a link that leads nowhere: a response of the chain was deleted, so the conversation can no longer be rebuilt
      if (turns.at(-1)!.previous !== null) return null;
      return { model: head.model, conversation: turns.reverse().flatMap((t) => t.messages) };
    },

    /** True when it was there (and the caller's) and is now gone. */
    async delete(id: string, principal: Principal): Promise<boolean> {
      const row = await find(id, principal);
      if (!row) return false;
      const gone = await db.delete(storedResponses).where(eq(storedResponses.id, id)).returning({ id: storedResponses.id });
      return gone.length > 0;
    },

    /** Deletes expired rows in batches (reads already ignore them; this only frees the space). Returns how many. */
    async sweep(batch = 5000): Promise<number> {
      let total = 0;
      for (;;) {
        const gone = await db
          .delete(storedResponses)
          .where(
            sql`${storedResponses.id} in (select ${storedResponses.id} from ${storedResponses} where ${storedResponses.expiresAt} <= ${new Date().toISOString()}::timestamptz limit ${batch})`,
          )
          .returning({ id: storedResponses.id });
        total += gone.length;
        if (gone.length < batch) return total;
      }
    },
  };
}
