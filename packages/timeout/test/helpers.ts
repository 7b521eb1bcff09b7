import http from 'node:http';
import { deferred, listen } from '@keel/test-support';
import type { Logger } from '@keel/lifecycle';

/** One logged line. */
export interface LoggedLine {
  readonly level: 'error' | 'warn' | 'info';
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

/** A logger that keeps what it is given. */
export function captureLogger(): Logger & { readonly lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  return {
    lines,
    error: (message, fields) => lines.push({ level: 'error', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
    info: (message, fields) => lines.push({ level: 'info', message, fields }),
  };
}

/** How a request to the slow server ended on the server's side. */
export interface SlowServerOutcome {
  /** True when the server's response had ended: false means the client went away. */
  readonly responseEnded: boolean;
  /** Epoch ms of the response's 'close' (or the connection's, when no request was read). */
  readonly closedAt: number;
}

/**
 * A real local server that takes a request and never answers it, standing for
 * a stuck downstream service. `closed` resolves when the caller gives up on the
 * request (its socket closes).
 */
export async function slowServer(): Promise<{ url: string; arrived: Promise<void>; closed: Promise<SlowServerOutcome>; close(): Promise<void> }> {
  const arrived = deferred();
  const closed = deferred<SlowServerOutcome>();
  let response: http.ServerResponse | undefined;
  const { server, url } = await listen((req, res) => {
    response = res;
    arrived.resolve();
    res.on('close', () => closed.resolve({ responseEnded: res.writableEnded, closedAt: Date.now() }));
  });
  // A client that gives up before its request is read still closes the connection.
  server.on('connection', (socket) => socket.once('close', () => closed.resolve({ responseEnded: response?.writableEnded ?? false, closedAt: Date.now() })));
  return {
    url,
    arrived: arrived.promise,
    closed: closed.promise,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What a raw HTTP client saw of a response, including how it ended. */
export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** True when the response ended cleanly; false when the connection was cut mid-body. */
  readonly complete: boolean;
}

/** A GET with node:http that reports a response cut mid-body instead of throwing. */
export function rawGet(url: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      const done = (): void => resolve({ status: response.statusCode ?? 0, headers: response.headers, body, complete: response.complete });
      response.on('end', done);
      response.on('error', done);
      response.on('aborted', done);
    });
    request.on('error', reject);
  });
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Number of ref'd timers in this process (unref'd ones cannot keep it alive and are not listed). */
export function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}
