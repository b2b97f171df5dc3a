/*
 * Named guardrail policies: their rules kept as jsonb (read back through the same parser that checked them), and
 * the compiled form every invocation of a key or model that names them runs, cached briefly in memory.
 */
import { asc, eq, inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { apiKeys, guardrailPolicies, models, type GuardrailPolicyRow } from '../db/schema.js';
import { badInput, guardrailBlocked, notFound } from '../errors.js';
import { compilePolicy, type CompiledPolicy } from '../guardrails/policy.js';
import { parseGuardrailRules } from '../guardrails/rules.js';
import { createRefreshingCache } from '../util/refreshing-cache.js';

export interface GuardrailPolicyInput {
  name?: string | null;
  description?: string | null;
  input?: unknown;
  output?: unknown;
}

/** A stored policy this version cannot compile (stored by another version, say): calls naming it are refused. */
interface Unusable {
  name: string;
  unusable: string;
}

function compileStored(row: GuardrailPolicyRow, log: Logger): CompiledPolicy | Unusable {
  try {
    return compilePolicy(row);
  } catch (e) {
    // fail closed: running the call without the policy would drop the protection it stands for
    log.error({ policy: row.name, err: e }, 'guardrail policy cannot be compiled; calls that name it are refused');
    return { name: row.name, unusable: (e as Error).message };
  }
}

/** What a refusal names when the policy is gone: its name went with it. */
const DELETED_POLICY = '(deleted policy)';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

export type GuardrailPolicyService = ReturnType<typeof createGuardrailPolicyService>;

export function createGuardrailPolicyService(db: Db, opts: { cacheTtlMs: number; log: Logger }) {
  // Every policy, compiled: the table is small and read on every guarded call; one entry under one key.
  const compiled = createRefreshingCache<Map<string, CompiledPolicy | Unusable>>({
    max: 1,
    ttlMs: opts.cacheTtlMs,
    revalidateMs: opts.cacheTtlMs * 5,
    load: async () => new Map((await db.select().from(guardrailPolicies)).map((row) => [row.id, compileStored(row, opts.log)])),
  });

  let lastForcedLoad = 0;

  async function byName(name: string): Promise<GuardrailPolicyRow> {
    const [row] = await db.select().from(guardrailPolicies).where(eq(guardrailPolicies.name, name));
    if (!row) throw notFound('GuardrailPolicy', name);
    return row;
  }

  function checkName(name: string): void {
    if (!NAME.test(name)) throw badInput('input.name', 'must be 1-128 characters: letters, digits and . _ : / -');
  }

  return {
    /**
     * The compiled policies of these ids, in the order given. An id no policy has (deleted under a key or model that
     * still names it) refuses the call: it stood for a protection that can no longer be applied.
     */
    async compiledByIds(ids: readonly string[]): Promise<CompiledPolicy[]> {
      if (ids.length === 0) return [];
      let all = await compiled.get('all');
      // a policy created on another instance and named already: read again rather than skip it (at most once a second)
      if (ids.some((id) => !all.has(id)) && Date.now() - lastForcedLoad > 1000) {
        lastForcedLoad = Date.now();
        compiled.clear();
        all = await compiled.get('all');
      }
      return ids.map((id) => {
        const p = all.get(id);
        if (!p) {
          opts.log.error({ policyId: id }, 'a key or model names a guardrail policy that does not exist; its calls are refused');
          throw guardrailBlocked(DELETED_POLICY, 'the policy no longer exists (see the gateway log)');
        }
        if ('unusable' in p) throw guardrailBlocked(p.name, 'the policy cannot be applied (see the gateway log)');
        return p;
      });
    },
    /** Forgets the compiled policies (a change here; other instances see it within the cache TTL). */
    invalidate: () => compiled.clear(),
    list: (): Promise<GuardrailPolicyRow[]> => db.select().from(guardrailPolicies).orderBy(asc(guardrailPolicies.name)),
    async byIds(ids: readonly string[]): Promise<Array<GuardrailPolicyRow | null>> {
      if (ids.length === 0) return [];
      const rows = await db.select().from(guardrailPolicies).where(inArray(guardrailPolicies.id, [...ids]));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    /** The ids of policies given by name (a key's or model's `guardrailPolicies`); an unknown name names its field. */
    async idsForNames(names: readonly string[], field: string): Promise<string[]> {
      if (names.length === 0) return [];
      const rows = await db.select({ id: guardrailPolicies.id, name: guardrailPolicies.name }).from(guardrailPolicies).where(inArray(guardrailPolicies.name, [...names]));
      const byName = new Map(rows.map((r) => [r.name, r.id]));
      return [...new Set(names)].map((name) => {
        const id = byName.get(name);
        if (!id) throw badInput(`${field}[${names.indexOf(name)}]`, `no guardrail policy named "${name}"`);
        return id;
      });
    },
    async create(input: GuardrailPolicyInput & { name: string }): Promise<GuardrailPolicyRow> {
      checkName(input.name);
      const values = {
        name: input.name,
        description: input.description ?? null,
        input: parseGuardrailRules(input.input, 'input.input', 'INPUT'),
        output: parseGuardrailRules(input.output, 'input.output', 'OUTPUT'),
      };
      const [existing] = await db.select({ id: guardrailPolicies.id }).from(guardrailPolicies).where(eq(guardrailPolicies.name, input.name));
      if (existing) throw badInput('input.name', `a guardrail policy named "${input.name}" already exists`);
      const [row] = await db.insert(guardrailPolicies).values(values).returning();
      compiled.clear();
      return row!;
    },
    /** An omitted field stays as it is; null rules remove that side's rules. */
    async update(name: string, input: GuardrailPolicyInput): Promise<GuardrailPolicyRow> {
      const current = await byName(name);
      const set: Partial<typeof guardrailPolicies.$inferInsert> = { updatedAt: new Date() };
      if (input.name != null && input.name !== name) {
        checkName(input.name);
        const [clash] = await db.select({ id: guardrailPolicies.id }).from(guardrailPolicies).where(eq(guardrailPolicies.name, input.name));
        if (clash) throw badInput('input.name', `a guardrail policy named "${input.name}" already exists`);
        set.name = input.name;
      }
      if (input.description !== undefined) set.description = input.description;
      if (input.input !== undefined) set.input = parseGuardrailRules(input.input, 'input.input', 'INPUT');
      if (input.output !== undefined) set.output = parseGuardrailRules(input.output, 'input.output', 'OUTPUT');
      const [row] = await db.update(guardrailPolicies).set(set).where(eq(guardrailPolicies.id, current.id)).returning();
      compiled.clear();
      return row!;
    },
    /** Refused while a key or model still names the policy: detaching it silently would drop a protection. */
    async delete(name: string): Promise<boolean> {
      // one transaction, the policy's row locked: a concurrent delete or rename waits rather than interleaving
      await db.transaction(async (tx) => {
        const [row] = await tx.select({ id: guardrailPolicies.id }).from(guardrailPolicies).where(eq(guardrailPolicies.name, name)).for('update');
        if (!row) throw notFound('GuardrailPolicy', name);
        const uses = sql`${row.id}::uuid = ANY(guardrail_policy_ids)`;
        const keys = await tx.select({ name: apiKeys.name }).from(apiKeys).where(uses).limit(5);
        const usedBy = await tx.select({ name: models.name }).from(models).where(uses).limit(5);
        if (keys.length || usedBy.length) {
          const holders = [...usedBy.map((m) => `model "${m.name}"`), ...keys.map((k) => `key "${k.name}"`)].join(', ');
          throw badInput('name', `guardrail policy "${name}" is still used by ${holders}; remove it from them first`);
        }
        await tx.delete(guardrailPolicies).where(eq(guardrailPolicies.id, row.id));
      });
      compiled.clear();
      return true;
    },
  };
}
