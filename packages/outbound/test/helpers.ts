import diagnosticsChannel from 'node:diagnostics_channel';
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import { closeServer, listen } from '@keel/test-support';
import type { Logger } from '@keel/lifecycle';

/** What the scripted dependency does with one request. */
export interface Step {
  /** Status to answer with. @defaultValue 200 */
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Wait this long before sending headers. */
  readonly headersAfter?: number;
  /** Send the headers and a first chunk, wait this long, then the rest. */
  readonly bodyAfter?: number;
  /** Destroy the socket before the headers, or after the headers and a first chunk. */
  readonly reset?: 'before-headers' | 'after-headers';
  /** Never answer. */
  readonly hang?: boolean;
}

/** One request as the dependency saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** performance.now() when the request had been read. */
  readonly at: number;
  /** True once the dependency finished its answer; false while running or when the client went away first. */
  answered: boolean;
  /** True when the client closed the connection before the answer ended. */
  abandoned: boolean;
}

/**
 * A real local dependency that follows a script: request `n` (from 0) gets
 * `script(n, request)`, or the last step of an array once it runs out.
 */
export async function scriptedServer(script: readonly Step[] | ((n: number, req: http.IncomingMessage) => Step)) {
  const seen: SeenRequest[] = [];
  let count = 0;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const { server, url } = await listen((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const n = count++;
      const entry: SeenRequest = { method: req.method!, url: req.url!, headers: req.headers, body, at: performance.now(), answered: false, abandoned: false };
      seen.push(entry);
      res.on('close', () => {
        if (!res.writableFinished) entry.abandoned = true;
      });
      const step = typeof script === 'function' ? script(n, req) : script[Math.min(n, script.length - 1)]!;
      const answer = (): void => {
        if (res.destroyed) return;
        if (step.reset === 'before-headers') {
          entry.answered = true;
          req.socket.destroy();
          return;
        }
        const payload = step.body ?? `answer ${n}`;
        res.writeHead(step.status ?? 200, { 'content-length': String(Buffer.byteLength(payload) + 4), ...step.headers });
        res.write('part');
        if (step.reset === 'after-headers') {
          entry.answered = true;
          later(5, () => req.socket.destroy());
          return;
        }
        const finish = (): void => {
          if (res.destroyed) return;
          entry.answered = true;
          res.end(payload);
        };
        if (step.bodyAfter !== undefined) later(step.bodyAfter, finish);
        else finish();
      };
      if (step.hang) return;
      if (step.headersAfter !== undefined) later(step.headersAfter, answer);
      else answer();
    });
  });
  return {
    url,
    server,
    seen,
    async close(): Promise<void> {
      for (const timer of timers) clearTimeout(timer);
      await closeServer(server);
    },
  };
}

/** Collects every message published on `name` while the test runs; `stop()` unsubscribes. */
export function record<T>(name: string): { readonly messages: T[]; stop(): void } {
  const messages: T[] = [];
  const listener = (message: unknown): void => {
    messages.push(message as T);
  };
  diagnosticsChannel.subscribe(name, listener);
  return { messages, stop: () => diagnosticsChannel.unsubscribe(name, listener) };
}

/** A logger that keeps nothing: for middlewares whose logs a test does not read. */
export const quietLogger: Logger = { error() {}, warn() {}, info() {} };

/** Reads an undici response body to the end as text. */
export async function text(body: { text(): Promise<string> }): Promise<string> {
  return body.text();
}

/** Polls `condition` every 5 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
