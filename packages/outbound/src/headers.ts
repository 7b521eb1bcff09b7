import type { Dispatcher } from 'undici';

/**
 * The value of header `name` (lowercase) in any shape undici accepts: an
 * object, a flat `[name, value, ...]` array, or pairs. `undefined` when absent.
 */
export function headerValue(headers: Dispatcher.DispatchOptions['headers'], name: string): string | undefined {
  if (headers === null || headers === undefined) return undefined;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return fromPairs(headers as unknown as Iterable<unknown>, name);
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
    }
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') return fromPairs(headers as Iterable<unknown>, name);
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== name) continue;
    const value = (headers as Record<string, unknown>)[key];
    return value === undefined ? undefined : Array.isArray(value) ? value.join(', ') : String(value);
  }
  return undefined;
}

function fromPairs(pairs: Iterable<unknown>, name: string): string | undefined {
  for (const pair of pairs) {
    if (!Array.isArray(pair)) continue;
    if (String(pair[0]).toLowerCase() === name) return pair[1] === undefined ? undefined : String(pair[1]);
  }
  return undefined;
}

/**
 * True when a request body can be sent again as it is: none, a string, bytes or
 * a Blob. Streams and iterables are consumed by the first attempt.
 */
export function isReplayable(body: unknown): boolean {
  if (body === null || body === undefined || typeof body === 'string') return true;
  if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer) return true;
  return typeof Blob !== 'undefined' && body instanceof Blob;
}
