/*
 * The core validates ChatInput and names fields as GraphQL does (`input.messages[0].toolCalls`, `input.topP`); each
 * REST surface renames them to the fields its client sent. One rule for all of them: only BAD_USER_INPUT errors
 * naming an `input.` field are renamed, in `extensions.field` and in the message's leading `field: `.
 */
import { GatewayError, isGatewayError } from '../../errors.js';

/** Renames the field of a BAD_USER_INPUT raised by the core with `rename`; other errors pass unchanged. */
export function withParam(err: unknown, rename: (field: string) => string): unknown {
  if (!isGatewayError(err) || err.code !== 'BAD_USER_INPUT' || typeof err.extensions.field !== 'string') return err;
  const field = err.extensions.field;
  if (!field.startsWith('input.')) return err;
  const param = rename(field);
  const message = err.message.startsWith(`${field}: `) ? `${param}: ${err.message.slice(field.length + 2)}` : err.message;
  return new GatewayError('BAD_USER_INPUT', message, { ...err.extensions, field: param });
}
