import { describeValue } from '@keel/lifecycle';
import { isErrorLike } from './errors';

/** A thrown value as plain fields for a log line (any logger can print it): name, message, code, stack, cause chain. */
export function serializeError(value: unknown, depth = 0): Record<string, unknown> {
  if (!isErrorLike(value)) return { value: describeValue(value) };
  const fields: Record<string, unknown> = { name: value.name, message: value.message };
  const { code } = value as { code?: unknown };
  if (typeof code === 'string' || typeof code === 'number') fields.code = code;
  if (typeof value.stack === 'string') fields.stack = value.stack;
  if (value.cause !== undefined && depth < 4) fields.cause = serializeError(value.cause, depth + 1);
  return fields;
}
