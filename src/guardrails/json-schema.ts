import { Ajv, type ValidateFunction } from 'ajv';
import { badInput } from '../errors.js';

/*
 * Output JSON-schema checks. Schemas come from administrators only (policies are ADMIN-managed): ajv compiles
 * each one to code once, when its policy is loaded, not per answer.
 */
const ajv = new Ajv({ allErrors: false, strict: false });

export type JsonSchemaCheck = (text: string) => { ok: true } | { ok: false; reason: string };

/** Compiles `schema`; one ajv refuses is a BAD_USER_INPUT naming `field`. */
export function compileJsonSchema(schema: Record<string, unknown>, field: string): JsonSchemaCheck {
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (e) {
    throw badInput(field, `invalid JSON schema: ${(e as Error).message}`);
  }
  return (text) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { ok: false, reason: 'the answer is not JSON' };
    }
    if (validate(value)) return { ok: true };
    return { ok: false, reason: `the answer does not match the schema: ${ajv.errorsText(validate.errors)}` };
  };
}
