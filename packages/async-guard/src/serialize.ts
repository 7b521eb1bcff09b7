import { describeValue } from '@keel/lifecycle';
import { isErrorLike } from './errors';

function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * A thrown value as plain fields for a log line (any logger can print it): name,
 * message, code, stack, cause chain. Never throws; a value that is not an Error
 * is described by its type only, never dumped.
 */
export function serializeError(value: unknown, depth = 0): Record<string, unknown> {
  if (!isErrorLike(value)) return { value: describeValue(value) };
  const name = read(value, 'name');
  const message = read(value, 'message');
  const fields: Record<string, unknown> = { name: typeof name === 'string' ? name : 'Error', message: typeof message === 'string' ? message : '' };
  const code = read(value, 'code');
  if (typeof code === 'string' || typeof code === 'number') fields.code = code;
  const stack = read(value, 'stack');
  if (typeof stack === 'string') fields.stack = stack;
  const cause = read(value, 'cause');
  if (cause !== undefined && depth < 4) fields.cause = serializeError(cause, depth + 1);
  return fields;
}
