/* The end user a call serves (ChatInput.user, EmbedInput.user, OpenAI's `user`): one rule for GraphQL, REST and prompts. */
import { badInput } from '../errors.js';

const MAX_END_USER_CHARS = 256;
// C0 and C1 controls and DEL: an end user is an identifier shown in usage tables and used as a limit counter key
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `value` is not an end user, or null when it is one (checked after trimming). */
function problemOf(value: string): string | null {
  const chars = [...value].length;
  if (chars < 1 || chars > MAX_END_USER_CHARS) return `must be 1-${MAX_END_USER_CHARS} characters (after trimming spaces)`;
  if (CONTROL.test(value)) return 'must not contain control characters';
  return null;
}

/** The end user as recorded (trimmed); null when none was given. BAD_USER_INPUT naming `field` when it is invalid. */
export function checkEndUser(raw: string | null | undefined, field: string): string | null {
  if (raw == null) return null;
  const value = raw.trim();
  const problem = problemOf(value);
  if (problem) throw badInput(field, problem);
  return value;
}

/** The end user if it is a valid one, else null: what a record of a call refused before its input was read carries. */
export function validEndUser(raw: string | null | undefined): string | null {
  if (raw == null) return null;
  const value = raw.trim();
  return problemOf(value) ? null : value;
}
