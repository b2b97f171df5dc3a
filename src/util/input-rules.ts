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
export const MAX_JSON_DEPTH = 64;

export const JSON_DEPTH_RULE = `must not be nested deeper than ${MAX_JSON_DEPTH} levels`;

/**
 * Whether objects and arrays nest deeper than `max` (the value itself is level 1 when it is an object or array).
 * Iterative: a recursive walk would overflow on the very input it guards against.
 */
export function nestsDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
