import { validateHeaderName, validateHeaderValue } from 'node:http';
import { read } from './inspect';

/**
 * Headers an error may not set: hop-by-hop headers (RFC 9110 7.6.1), and those
 * the error response itself owns (its body's type, length, encoding, security).
 */
const FORBIDDEN = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'content-type',
  'content-encoding',
  'content-range',
  'content-security-policy',
  'x-content-type-options',
]);

/**
 * The response headers an error may set by default: those that tell the client
 * how to retry, authenticate or rephrase the request. Anything else an error
 * carries (`Set-Cookie`, `Location`, CORS, caching, security, `Server`, and
 * whatever a downstream service answered with) is dropped unless the
 * `errorHeaders` option allows it.
 */
export const ALLOWED_ERROR_HEADERS: readonly string[] = Object.freeze([
  'retry-after',
  'www-authenticate',
  'allow',
  'accept',
  'accept-encoding',
  'accept-patch',
  'accept-post',
  'accept-ranges',
  'content-language',
  'ratelimit',
  'ratelimit-policy',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
]);

/** True for a header no error may set, whatever the options: hop-by-hop, or owned by the error response itself. */
export function isForbiddenErrorHeader(name: string): boolean {
  return FORBIDDEN.has(name.toLowerCase());
}

/** Header values as `res.setHeader` takes them. */
export type HeaderValue = string | readonly string[];

const MAX_HEADERS = 32;

/**
 * Copies the headers of an error into a new object, keeping only valid names
 * and values on the allow-list ({@link ALLOWED_ERROR_HEADERS} plus `extra`,
 * lowercase); reading `headers` never throws.
 */
export function safeErrorHeaders(source: unknown, extra: readonly string[] = []): Record<string, HeaderValue> {
  const result: Record<string, HeaderValue> = {};
  if (typeof source !== 'object' || source === null) return result;
  let keys: string[];
  try {
    keys = Object.keys(source);
  } catch {
    return result;
  }
  for (const name of keys.slice(0, MAX_HEADERS)) {
    const lower = name.toLowerCase();
    if (FORBIDDEN.has(lower) || (!ALLOWED_ERROR_HEADERS.includes(lower) && !extra.includes(lower))) continue;
    const value = toHeaderValue(read(source, name));
    if (value === undefined) continue;
    try {
      validateHeaderName(name);
      for (const item of typeof value === 'string' ? [value] : value) validateHeaderValue(name, item);
    } catch {
      continue;
    }
    result[name] = value;
  }
  return result;
}

function toHeaderValue(value: unknown): HeaderValue | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  try {
    if (Array.isArray(value) && value.length > 0 && value.length <= MAX_HEADERS && value.every((item) => typeof item === 'string')) {
      return [...(value as string[])];
    }
  } catch {
    // A Proxy posing as an array: not a header value.
  }
  return undefined;
}

/** True when `name` is already in `headers`, whatever its case. */
export function hasHeader(headers: Readonly<Record<string, HeaderValue>>, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(headers).some((key) => key.toLowerCase() === lower);
}
