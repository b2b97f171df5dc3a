/*
 * Responses stored by POST /v1/responses (`store`, OpenAI's default): read back by GET /v1/responses/{id} and
 * continued by `previous_response_id` until they expire. Only the key that created one (or an ADMIN key) sees it;
 * to anyone else it does not exist, as OpenAI answers for another organisation's response.
 */
import { and, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { storedResponses } from '../db/schema.js';
import type { ChatInput } from '../gateway/chat-input.js';
import type { Principal } from './keys.js';

/** The gateway's messages of a conversation, as ChatInput carries them. */
export type StoredConversation = ChatInput['messages'];

export interface StoredResponse {
  id: string;
  model: string;
  /** Every turn up to and including this response's output, without its `instructions` (OpenAI does not carry those over). */
  conversation: StoredConversation;
  /** The Response object as it was returned. */
  response: Record<string, unknown>;
}

export type StoredResponseService = ReturnType<typeof createStoredResponseService>;

export function createStoredResponseService(db: Db, opts: { ttlSeconds: number }) {
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

  return {
    async save(r: StoredResponse, principal: Principal): Promise<void> {
      const now = Date.now();
      await db.insert(storedResponses).values({
        id: r.id,
        apiKeyId: principal.key.id,
        model: r.model,
        conversation: r.conversation,
        response: r.response,
        createdAt: new Date(now),
        expiresAt: new Date(now + opts.ttlSeconds * 1000),
      });
    },

    async get(id: string, principal: Principal): Promise<StoredResponse | null> {
      const row = await find(id, principal);
      if (!row) return null;
      return { id: row.id, model: row.model, conversation: row.conversation as StoredConversation, response: row.response as Record<string, unknown> };
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
