import { types } from 'node:util';
import type { Logger } from './logger';
import { processGlobal } from './process-global';

/** What a redacted value is logged as. */
export const REDACTED = '[REDACTED]';

/**
 * Header and field names whose values never reach a keel log line. A `*`
 * matches any run of characters. Names are compared lowercased, with `_`,
 * `.`, spaces and camelCase boundaries read as `-`: `apiKey`, `api_key` and
 * `API-KEY` all match `*-key`. Extend it process-wide with {@link redactNames},
 * or per middleware where a package has an option for it.
 */
export const DEFAULT_REDACTED_NAMES: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
  'x-csrf-token',
  'x-xsrf-token',
  'x-amz-security-token',
  'x-amzn-oidc-accesstoken',
  'x-amzn-oidc-data',
  'cf-access-jwt-assertion',
  'x-forwarded-client-cert',
  'x-client-cert',
  'ssl-client-cert',
  'key',
  'pass',
  'pwd',
  '*token*',
  '*-key',
  '*apikey*',
  '*secret*',
  '*auth*',
  '*cookie*',
  '*password*',
  '*passwd*',
  '*passphrase*',
  '*credential*',
  '*session*',
  '*jwt*',
  '*signature*',
]);

/** Names whose values are URLs: logged without query string, fragment or user info. */
const URL_NAME = /(?:^|-)(?:url|uri|href|referr?er|location)$/;

interface RedactionState {
  readonly names: string[];
  pattern: RegExp;
}

const state = processGlobal<RedactionState>('keel.redact.v1', () => ({ names: [...DEFAULT_REDACTED_NAMES], pattern: compile(DEFAULT_REDACTED_NAMES) }));

function compile(names: readonly string[]): RegExp {
  const alternatives = names.map((name) => normalizeName(name).split('*').map(escape).join('.*'));
  return new RegExp(`^(?:${alternatives.join('|')})$`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `apiKey`, `API_KEY` and `Api-Key` all become `api-key`. */
export function normalizeName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[_.\s]+/g, '-');
}

/**
 * Adds names (or `*` patterns) to the process-wide redaction list every keel
 * package logs through; returns the whole list as it now stands.
 */
export function redactNames(...names: string[]): readonly string[] {
  for (const name of names) {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError(`@keel/lifecycle: redactNames() takes non-empty strings; received ${typeof name}`);
    if (!state.names.includes(name)) state.names.push(name);
  }
  state.pattern = compile(state.names);
  verdicts.clear();
  return Object.freeze([...state.names]);
}

/** The process-wide redaction list: {@link DEFAULT_REDACTED_NAMES} plus what {@link redactNames} added. */
export function redactedNames(): readonly string[] {
  return Object.freeze([...state.names]);
}

const extraPatterns = new WeakMap<readonly string[], RegExp>();
/** Names seen before, as a log line repeats the same ones: their normalized form and shared-list verdict. */
const verdicts = new Map<string, { readonly normalized: string; readonly redacted: boolean; readonly url: boolean }>();
const MAX_VERDICTS = 2048;

function verdictOf(name: string): { readonly normalized: string; readonly redacted: boolean; readonly url: boolean } {
  let verdict = verdicts.get(name);
  if (verdict === undefined) {
    const normalized = normalizeName(name);
    verdict = { normalized, redacted: state.pattern.test(normalized), url: URL_NAME.test(normalized) };
    if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
    verdicts.set(name, verdict);
  }
  return verdict;
}

/** True when the value of header or field `name` is never logged (the shared list, plus `extra`). */
export function isRedactedName(name: string, extra: readonly string[] = []): boolean {
  const { normalized, redacted } = verdictOf(name);
  if (redacted) return true;
  if (extra.length === 0) return false;
  let pattern = extraPatterns.get(extra);
  if (pattern === undefined) {
    pattern = compile(extra);
    extraPatterns.set(extra, pattern);
  }
  return pattern.test(normalized);
}

/**
 * A URL as it may be logged: without query string and fragment, and, for an
 * absolute URL, without user name and password. `/reset?token=abc` gives `/reset`.
 */
export function redactUrl(url: string): string {
  const cut = url.search(/[?#]/);
  const path = cut === -1 ? url : url.slice(0, cut);
  return path.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]{1,15}:\/\/)(?:[^\s/?#@"'<>]*@)?([^\s?#"'<>]*)(?:\?[^\s#"'<>]*)?(?:#[^\s"'<>]*)?/gi;
const PATH_IN_TEXT = /(^|[\s"'(=])(\/[^\s?#"'<>]*)\?[^\s#"'<>]*/g;
const CREDENTIAL_IN_TEXT = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/**
 * Free text as it may be logged: URLs, absolute or a path (`GET /reset?token=x`),
 * lose their query strings and user info; `Bearer <token>` loses its token.
 */
export function redactText(text: string): string {
  let result = text;
  if (result.includes('://')) result = result.replace(URL_IN_TEXT, '$1$2');
  if (result.includes('?')) result = result.replace(PATH_IN_TEXT, '$1$2');
  if (result.includes('Bearer') || result.includes('Basic')) result = result.replace(CREDENTIAL_IN_TEXT, `$1 ${REDACTED}`);
  return result;
}

const MAX_HEADER_VALUE = 1024;

/** Request or response headers as they may be logged: credentials redacted, URLs without query, long values cut. */
export function redactHeaders(headers: unknown, extra: readonly string[] = []): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  if (typeof headers !== 'object' || headers === null) return result;
  let entries: Array<[string, unknown]>;
  try {
    entries = Object.entries(headers);
  } catch {
    return result;
  }
  for (const [name, value] of entries) {
    if (value === undefined) continue;
    if (isRedactedName(name, extra)) {
      result[name] = REDACTED;
      continue;
    }
    const { url } = verdictOf(name);
    const one = (item: unknown): string => {
      const text = String(item);
      const safe = url ? redactUrl(text) : redactText(text);
      return safe.length > MAX_HEADER_VALUE ? `${safe.slice(0, MAX_HEADER_VALUE)}…` : safe;
    };
    result[name] = Array.isArray(value) ? value.map(one) : one(value);
  }
  return result;
}

/** Options of {@link redactValue}. */
export interface RedactValueOptions {
  /**
   * Names (or `*` patterns) redacted in addition to the shared list.
   * @defaultValue `[]`
   */
  readonly extra?: readonly string[];
  /**
   * How deep nested objects are copied.
   * @defaultValue `8`
   */
  readonly maxDepth?: number;
}

const MAX_KEYS = 100;
const MAX_STRING = 32_768;

/**
 * A copy of any value that is safe to log: fields named in the redaction list
 * are `[REDACTED]` at any depth (nested `headers`, `config`, `auth`), URL
 * fields lose their query strings, free text loses URL query strings and
 * bearer tokens; Errors become plain `{ name, message, stack, code, cause, ... }`.
 * Cycles, Proxies, throwing getters and huge values are survived: it never throws.
 */
export function redactValue(value: unknown, options: RedactValueOptions = {}): unknown {
  const extra = options.extra ?? [];
  const maxDepth = options.maxDepth ?? 8;
  const seen = new WeakSet<object>();

  const copy = (item: unknown, depth: number): unknown => {
    switch (typeof item) {
      case 'string':
        return redactText(item.length > MAX_STRING ? `${item.slice(0, MAX_STRING)}… [${item.length - MAX_STRING} more characters]` : item);
      case 'number':
      case 'boolean':
      case 'undefined':
        return item;
      case 'bigint':
        return item.toString();
      case 'symbol':
        return item.toString();
      case 'function':
        return `[function ${safeName(item)}]`;
    }
    if (item === null) return null;
    const object = item as object;
    try {
      if (seen.has(object)) return '[Circular]';
      seen.add(object);
      if (types.isProxy(object)) return '[Proxy]';
      if (depth >= maxDepth) return '[Object]';
      if (item instanceof Date) return Number.isNaN(item.getTime()) ? 'Invalid Date' : item.toISOString();
      if (item instanceof URL) return redactUrl(item.href);
      if (ArrayBuffer.isView(item)) return `[${item.constructor.name} ${item.byteLength} bytes]`;
      if (Array.isArray(item)) {
        const list = item.slice(0, MAX_KEYS).map((entry) => copy(entry, depth + 1));
        if (item.length > MAX_KEYS) list.push(`[${item.length - MAX_KEYS} more items]`);
        return list;
      }
      const result: Record<string, unknown> = {};
      if (isErrorObject(object)) {
        for (const key of ['name', 'message', 'stack', 'code'] as const) {
          const field = read(object, key);
          if (field !== undefined) result[key] = copy(field, depth + 1);
        }
      }
      const keys = Object.keys(object);
      for (const key of keys.slice(0, MAX_KEYS)) {
        if (key in result) continue;
        assign(result, key, field(key, read(object, key), depth));
      }
      if (keys.length > MAX_KEYS) result['[more keys]'] = keys.length - MAX_KEYS;
      if (isErrorObject(object) && !('cause' in result)) {
        const cause = read(object, 'cause');
        if (cause !== undefined) result.cause = copy(cause, depth + 1);
      }
      return result;
    } catch {
      return '[unreadable]';
    }
  };

  const field = (key: string, item: unknown, depth: number): unknown => {
    if (isRedactedName(key, extra)) return item === undefined || item === null || item === '' ? item : REDACTED;
    const { normalized, url } = verdictOf(key);
    if (typeof item === 'string' && url) return redactUrl(item);
    if (typeof item === 'object' && item !== null && (normalized === 'headers' || normalized === 'raw-headers')) {
      try {
        if (!Array.isArray(item) && !types.isProxy(item)) return redactHeaders(item, extra);
      } catch {
        return '[unreadable]';
      }
    }
    return copy(item, depth + 1);
  };

  return copy(value, 0);
}

// A key named `__proto__` (JSON.parse makes them) must stay a field, not become the prototype.
function assign(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function read(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return '[unreadable]';
  }
}

function isErrorObject(object: object): boolean {
  try {
    return types.isNativeError(object) || object instanceof Error || Object.prototype.toString.call(object) === '[object Error]';
  } catch {
    return false;
  }
}

function safeName(fn: unknown): string {
  try {
    const name = (fn as { name?: unknown }).name;
    return typeof name === 'string' && name.length > 0 ? name : 'anonymous';
  } catch {
    return 'anonymous';
  }
}

const WRAPPED = Symbol.for('keel.redactingLogger.v1');

/**
 * Wraps `logger` so that every line goes through {@link redactText} (the
 * message) and {@link redactValue} (the fields): the one place keel log lines
 * are cleaned. Wrapping a wrapped logger with no `extra` returns it as is; a
 * logger that throws is left to the caller, as unwrapped.
 */
export function redactingLogger(logger: Logger, extra: readonly string[] = []): Logger {
  if (extra.length === 0 && (logger as Logger & { [WRAPPED]?: Logger })[WRAPPED] !== undefined) return logger;
  const write = (level: 'error' | 'warn' | 'info') => (message: string, fields?: Record<string, unknown>): unknown => {
    const safeMessage = typeof message === 'string' ? redactText(message) : message;
    // Looked up at each call: a logger whose methods are replaced later still gets the line.
    if (fields === undefined) return logger[level](safeMessage);
    return logger[level](safeMessage, redactValue(fields, { extra }) as Record<string, unknown>);
  };
  return Object.freeze({ error: write('error'), warn: write('warn'), info: write('info'), [WRAPPED]: logger });
}
