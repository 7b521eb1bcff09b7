import { Writable } from 'node:stream';
import { getContext, runInRequestContext, type Logger } from '@keel/lifecycle';
import winston from 'winston';

/** One call made to a logger. */
export interface LogEntry {
  readonly level: 'error' | 'warn' | 'info';
  readonly message: string;
  readonly fields: Record<string, any>;
}

/** A logger that keeps what it is given, in order, to assert on. */
export function captureLogger(): { logger: Logger; entries: LogEntry[]; take(): LogEntry[] } {
  const entries: LogEntry[] = [];
  let taken = 0;
  const record = (level: LogEntry['level']) => (message: string, fields?: Record<string, unknown>) => {
    entries.push({ level, message, fields: fields ?? {} });
  };
  return {
    logger: { error: record('error'), warn: record('warn'), info: record('info') },
    entries,
    take() {
      const fresh = entries.slice(taken);
      taken = entries.length;
      return fresh;
    },
  };
}

/** A real winston logger writing JSON lines into memory: the text is what stdout would get. */
export function winstonToMemory(): { logger: winston.Logger; text(): string; lines(): any[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8');
      callback();
    },
  });
  const logger = winston.createLogger({
    level: 'info',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  return {
    logger,
    text: () => text,
    lines: () => text.split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line)),
  };
}

/** Opens the keel request context and puts a trace ID in it, as @keel/trace-id would. */
export function withTraceId(traceId: string) {
  return function setTraceId(req: any, res: any, next: () => void): void {
    runInRequestContext(req, res, () => {
      getContext()!.traceId = traceId;
      next();
    });
  };
}

/** Lines of a stack frame, file paths, and Node internals: none may reach a production body. */
export const LEAK_PATTERNS: readonly RegExp[] = [
  /\bat [^\s()]+ \(/,
  /\bat \/[^\s]+:\d+:\d+/,
  /[\w.-]+\.(?:[cm]?js|ts):\d+/,
  /(?:\/[\w.@-]+){2,}\.(?:[cm]?js|ts)\b/,
  /node:internal/,
  /node_modules/,
];
