/**
 * Reads of untrusted thrown values. A thrown value may be a Proxy, have getters
 * that throw, a `toString` that throws, or be cyclic: nothing here may throw.
 */

import { types } from 'node:util';
import { redactValue } from '@keel/lifecycle';

/** `value[key]`, or `undefined` when the read throws. */
export function read(value: unknown, key: PropertyKey): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  try {
    return (value as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** `value[key]` when it is a string, else `undefined`. */
export function readString(value: unknown, key: PropertyKey): string | undefined {
  const item = read(value, key);
  return typeof item === 'string' ? item : undefined;
}

/**
 * True for an Error of this realm or another (vm contexts, jest sandboxes), and
 * for error-like objects such as DOMException, without letting a Proxy throw.
 */
export function isError(value: unknown): value is Error {
  if (typeof value !== 'object' || value === null) return false;
  try {
    if (types.isNativeError(value) || value instanceof Error) return true;
    if (Object.prototype.toString.call(value) === '[object Error]') return true;
  } catch {
    return false;
  }
  return typeof read(value, 'name') === 'string' && typeof read(value, 'message') === 'string' && typeof read(value, 'stack') === 'string';
}

/** `typeof`, with `null` and arrays told apart. */
export function typeOf(value: unknown): string {
  if (value === null) return 'null';
  try {
    if (Array.isArray(value)) return 'array';
  } catch {
    // A revoked Proxy throws on Array.isArray.
    return 'object';
  }
  return typeof value;
}

/** Cuts `text` to `limit` characters, saying how much was cut. */
export function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}… [${text.length - limit} more characters]`;
}

/** A bounded, never-throwing text form of any value, for logs. */
export function preview(value: unknown, limit: number): string {
  switch (typeof value) {
    case 'string':
      return truncate(value, limit);
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'symbol':
    case 'undefined':
      return String(value);
    case 'function':
      return `[function ${readString(value, 'name') || 'anonymous'}]`;
  }
  if (value === null) return 'null';
  try {
    const seen = new WeakSet<object>();
    // A thrown object is logged as text: redact its fields (nested headers, config, auth) before it becomes one.
    const json = JSON.stringify(redactValue(value), (_key, item: unknown) => {
      if (typeof item === 'bigint') return item.toString();
      if (typeof item === 'object' && item !== null) {
        if (seen.has(item)) return '[Circular]';
        seen.add(item);
      }
      return item;
    });
    return truncate(json ?? '[unserializable]', limit);
  } catch {
    return '[unserializable]';
  }
}
