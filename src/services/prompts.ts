/* Versioned prompt templates with {{variable}} placeholders. */
import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { prompts, type PromptRow } from '../db/schema.js';
import { badInput } from '../errors.js';
import type { Role } from '../providers/types.js';
import { checkPromptChange, checkPromptModel, newPromptTeamId, readsPrompt } from './access.js';
import type { Principal } from './keys.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const ROLES: Role[] = ['SYSTEM', 'USER', 'ASSISTANT', 'TOOL'];

export interface CreatePromptInput {
  name: string;
  model: string;
  messages: Array<{ role: Role; content: string }>;
}

function variablesOf(messages: Array<{ content: string }>): string[] {
  const seen = new Set<string>();
  for (const m of messages) for (const match of m.content.matchAll(PLACEHOLDER)) seen.add(match[1]);
  return [...seen];
}

/** Fills every placeholder; a missing or unknown variable is an error naming it. */
export function fillPrompt(row: PromptRow, variables: unknown): Array<{ role: Role; content: string }> {
  if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) {
    throw badInput('variables', 'must be a JSON object of variable names to values');
  }
  const vars = (variables ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(vars)) {
    if (!row.variables.includes(name)) throw badInput(`variables.${name}`, `unknown variable; prompt "${row.name}" uses: ${row.variables.join(', ') || 'none'}`);
  }
  for (const name of row.variables) {
    if (vars[name] === undefined || vars[name] === null) throw badInput(`variables.${name}`, 'is missing');
  }
  return row.messages.map((m) => ({
    role: m.role as Role,
    content: m.content.replace(PLACEHOLDER, (_, name: string) => {
      const v = vars[name];
      return typeof v === 'string' ? v : JSON.stringify(v);
    }),
  }));
}

export type PromptService = ReturnType<typeof createPromptService>;

export function createPromptService(db: Db) {
  return {
    /** A new template, or a new version of the name's (which keeps the name's team); `actor` must manage the name. */
    async create(input: CreatePromptInput, actor: Principal): Promise<PromptRow> {
      if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/.test(input.name)) {
        throw badInput('input.name', 'must be 1-128 characters: letters, digits and . _ : / -');
      }
      if (!input.model?.trim()) throw badInput('input.model', 'must not be empty');
      checkPromptModel(actor, input.model);
      if (!input.messages.length) throw badInput('input.messages', 'must contain at least one message');
      input.messages.forEach((m, i) => {
        if (!ROLES.includes(m.role)) throw badInput(`input.messages[${i}].role`, 'unknown role');
        if (!m.content) throw badInput(`input.messages[${i}].content`, 'must not be empty');
      });
      const variables = variablesOf(input.messages);
      // the unique (name, version) index settles a race between two creators: retry with the next number
      for (let tries = 0; ; tries++) {
        const [latest] = await db
          .select({ version: prompts.version, teamId: prompts.teamId })
          .from(prompts)
          .where(eq(prompts.name, input.name))
          .orderBy(desc(prompts.version))
          .limit(1);
        checkPromptChange(actor, input.name, latest?.teamId);
        try {
          const [row] = await db
            .insert(prompts)
            .values({
              name: input.name,
              version: (latest?.version ?? 0) + 1,
              model: input.model,
              messages: input.messages,
              variables,
              teamId: latest ? latest.teamId : newPromptTeamId(actor),
            })
            .returning();
          return row;
        } catch (e) {
          if (tries >= 3) throw e;
        }
      }
    },
    /** Every version this key may read (src/services/access.ts), newest first per name. */
    async listFor(principal: Principal): Promise<PromptRow[]> {
      const rows = await db.select().from(prompts).orderBy(asc(prompts.name), desc(prompts.version));
      return rows.filter((row) => readsPrompt(principal, row));
    },
    /** By id, whoever may read them (the caller applies readsPrompt); null where there is none. */
    async byIds(ids: readonly string[]): Promise<Array<PromptRow | null>> {
      const rows = await db.select().from(prompts).where(inArray(prompts.id, [...ids]));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    /** The latest version, or the one asked for; null when it does not exist or this key may not read it. */
    async getFor(principal: Principal, name: string, version?: number | null): Promise<PromptRow | null> {
      const [row] = await db
        .select()
        .from(prompts)
        .where(version != null ? and(eq(prompts.name, name), eq(prompts.version, version)) : eq(prompts.name, name))
        .orderBy(desc(prompts.version))
        .limit(1);
      return row && readsPrompt(principal, row) ? row : null;
    },
  };
}
