/*
 * The rules every caller input is held to at the edge, on GraphQL (src/schema/input-rules-plugin.ts) and REST
 * (src/http/rest/schemas.ts) alike, so a bad value is a BAD_USER_INPUT naming its field instead of a database or
 * stack failure deep inside.
 */

/**
 * Text (names, ids, filters, message contents) must not hold U+0000: PostgreSQL text cannot store it, nor even
 * compare against it. Free-form JSON values (metadata, prompt variables) are not text in this sense: the usage
 * writer stores them with such characters replaced.
 */
export const TEXT_RULE = 'must not contain NUL (U+0000) characters';

export const isStorableText = (s: string): boolean => !s.includes('\u0000');

/** Row ids are uuids: anything else is unknown without asking the database (which would refuse to compare it). */
export const isUuid = (s: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** How deeply a JSON value (metadata, prompt variables, tool parameters) may nest; far above any real use. */
const MAX_JSON_DEPTH = 64;

export const JSON_DEPTH_RULE = `must not be nested deeper than ${MAX_JSON_DEPTH} levels`;

/**
 * Whether objects and arrays nest deeper than `max` (the value itself is level 1 when it is an object or array).
 * Recursive, but the walk stops at `max` levels: the bound that refuses a deep value also bounds the stack used to
 * find it, so no input can overflow it (and nothing is allocated for the usual shallow value).
 */
export function nestsDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max <= 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestsDeeperThan(value[i], max - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (Object.hasOwn(value, key) && nestsDeeperThan((value as Record<string, unknown>)[key], max - 1)) return true;
  }
  return false;
}
