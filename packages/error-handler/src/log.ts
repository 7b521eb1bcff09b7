import type { IncomingMessage } from 'node:http';
import { redactHeaders as redactRequestHeaders, type Logger } from '@keel/lifecycle';
import winston from 'winston';
import type { NormalizedError } from './normalize';

let sharedLogger: Logger | undefined;

/** The logger used when none is given: winston, one JSON line per entry on stdout, so no message can forge a line. */
export function defaultLogger(): Logger {
  sharedLogger ??= winston.createLogger({
    level: 'info',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
  return sharedLogger;
}

/** The log level of an error: 5xx at error, a client that went away at info, other 4xx at the configured level. */
export function levelOf(error: NormalizedError, clientErrorLevel: 'info' | 'warn'): 'error' | 'warn' | 'info' {
  if (error.status >= 500) return 'error';
  if (error.status === 499) return 'info';
  return clientErrorLevel;
}

/** The request headers with credentials redacted (the shared list plus `extra`), URLs without query, long values cut. */
export function redactHeaders(headers: IncomingMessage['headers'], extra: readonly string[]): Record<string, string | string[]> {
  return redactRequestHeaders(headers, extra);
}

/** What one log line says about a failed request. */
export interface LogLine {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly code: string;
  readonly traceId?: string;
  readonly durationMs?: number;
  readonly outcome: string;
  readonly headers: Record<string, string | string[]>;
  readonly error: NormalizedError;
}

/** The fields of the line: 4xx carry name, message and code; 5xx add the stack and the cause chain. */
export function logFields(line: LogLine): Record<string, unknown> {
  const { error } = line;
  const server = error.status >= 500;
  return {
    method: line.method,
    path: line.path,
    status: line.status,
    code: line.code,
    ...(line.traceId !== undefined ? { traceId: line.traceId } : {}),
    ...(line.durationMs !== undefined ? { durationMs: line.durationMs } : {}),
    outcome: line.outcome,
    error: {
      kind: error.kind,
      name: error.name,
      message: error.message,
      ...(error.errorCode !== undefined ? { code: error.errorCode } : {}),
      ...(error.thrown !== undefined ? { thrown: error.thrown } : {}),
      ...(error.downstreamStatus !== undefined ? { downstreamStatus: error.downstreamStatus } : {}),
      ...(server && error.stack !== undefined ? { stack: error.stack } : {}),
      ...(server && error.causes.length > 0 ? { causes: error.causes } : {}),
    },
    headers: line.headers,
  };
}

/** Writes one line; a logger that throws never breaks the response. */
export function writeLog(logger: Logger, level: 'error' | 'warn' | 'info', message: string, fields: Record<string, unknown>): void {
  try {
    logger[level](message, fields);
  } catch {
    // The logger is broken; the response must still go out.
  }
}
