import { redactText, redactValue } from './redact';

/**
 * The logger shape every keel package accepts: winston's, and any object with
 * `error`, `warn` and `info` taking a message and structured fields.
 */
export interface Logger {
  error(message: string, fields?: Record<string, unknown>): unknown;
  warn(message: string, fields?: Record<string, unknown>): unknown;
  info(message: string, fields?: Record<string, unknown>): unknown;
}

/**
 * A dependency-free logger that writes one JSON line per call to `stream`
 * (stdout by default): `{"level","message","time",...fields}`, through the
 * shared redaction (credential fields `[REDACTED]`, URLs without query string).
 */
export function createJsonLogger(stream: NodeJS.WritableStream = process.stdout): Logger {
  const write = (level: string, message: string, fields?: Record<string, unknown>): void => {
    const safe = fields === undefined ? undefined : (redactValue(fields) as Record<string, unknown>);
    stream.write(`${safeStringify({ level, message: typeof message === 'string' ? redactText(message) : message, time: new Date().toISOString(), ...safe })}\n`);
  };
  return {
    error: (message, fields) => write('error', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    info: (message, fields) => write('info', message, fields),
  };
}

/** JSON.stringify that survives cycles, BigInts and Errors (logged with name, message, stack). */
export function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return item.toString();
    if (item instanceof Error) {
      return { name: item.name, message: item.message, stack: item.stack, ...(item.cause !== undefined ? { cause: item.cause } : {}) };
    }
    if (typeof item === 'object' && item !== null) {
      if (seen.has(item)) return '[Circular]';
      seen.add(item);
    }
    return item;
  });
}
