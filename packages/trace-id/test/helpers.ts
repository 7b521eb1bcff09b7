import { connect } from 'node:net';
import { Writable } from 'node:stream';
import winston from 'winston';
import { traceFormat, traceMeta } from '@keel/trace-id';

/** A response read off a raw socket: status, headers (lowercased, every value kept), body. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string[]>>;
  readonly body: string;
}

/**
 * Sends a GET with header lines written byte for byte (duplicates, tabs, UTF-8,
 * 10 KB values: what a hostile client can put on the wire) and reads the response.
 */
export function rawGet(port: number, path: string, headerLines: readonly (string | Buffer)[]): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string[]> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        (headers[name] ??= []).push(line.slice(colon + 1).trim());
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
    const head = Buffer.concat([
      Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, 'latin1'),
      ...headerLines.map((line) => Buffer.concat([typeof line === 'string' ? Buffer.from(line, 'latin1') : line, Buffer.from('\r\n')])),
      Buffer.from('\r\n'),
    ]);
    socket.end(head);
  });
}

/** A winston logger (trace format + trace meta, JSON) whose lines land in `lines`, parsed. */
export function memoryLogger(): { logger: winston.Logger; lines: Array<Record<string, unknown>>; raw: string[] } {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const logger = winston.createLogger({
    defaultMeta: traceMeta(),
    format: winston.format.combine(traceFormat(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines, raw };
}

/** A version 4 UUID as `crypto.randomUUID()` makes it. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** A W3C trace ID: 32 lowercase hex characters. */
export const TRACE_ID = /^[0-9a-f]{32}$/;
/** A W3C span ID. */
export const SPAN_ID = /^[0-9a-f]{16}$/;
