import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createLifecycle, runInRequestContext, type Lifecycle, type Logger } from '@keel/lifecycle';
import type { ExpressFactory } from '@keel/test-support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const tlsCredentials = require('./fixtures/tls-credentials') as { cert: string; key: string };

/** One logged line: message, level and fields flattened. */
export type LogLine = { level: string; message: string } & Record<string, unknown>;

/** A logger that keeps its lines for assertions. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push({ level, message, ...fields });
  };
  return { lines, error: write('error'), warn: write('warn'), info: write('info') };
}

/** A lifecycle that listens to no signal and never exits the process. */
export function testLifecycle(options: { shutdownTimeout?: number; preStopDelay?: number } = {}): { lifecycle: Lifecycle; logger: ReturnType<typeof memoryLogger> } {
  const logger = memoryLogger();
  const lifecycle = createLifecycle({ signals: [], exit: false, shutdownTimeout: 4000, preStopDelay: 0, logger, ...options });
  return { lifecycle, logger };
}

/** An Express app whose requests run in a keel context; `routes` adds the handlers. */
export function contextApp(express: ExpressFactory, routes: (app: ReturnType<ExpressFactory>) => void): ReturnType<ExpressFactory> {
  const app = express();
  app.use((req, res, next) => runInRequestContext(req, res, next));
  routes(app);
  return app;
}

/** Starts `app` on 127.0.0.1:0, over TLS when `tls` is set. */
export async function start(app: http.RequestListener, tls = false): Promise<{ server: http.Server | https.Server; port: number }> {
  const server = tls ? https.createServer(tlsCredentials, app) : http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Forcibly closes a server left open by a failed test. */
export function forceClose(server: http.Server | https.Server): void {
  server.closeAllConnections();
  if (server.listening) server.close();
}

/** How one client request ended. */
export interface Answer {
  readonly status?: number;
  readonly headers?: http.IncomingHttpHeaders;
  readonly body?: string;
  readonly error?: string;
  readonly reusedSocket: boolean;
}

/**
 * Sends a GET and resolves with the answer or the error code; `onWritten` runs
 * once the request has been handed to the kernel.
 */
export function get(port: number, path: string, options: { agent?: http.Agent | false; tls?: boolean; onWritten?: () => void } = {}): Promise<Answer> {
  const mod = options.tls ? https : http;
  return new Promise((resolve) => {
    const req = mod.request({ host: '127.0.0.1', port, path, agent: options.agent ?? false, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, reusedSocket: req.reusedSocket }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, reusedSocket: req.reusedSocket }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, reusedSocket: req.reusedSocket }));
    if (options.onWritten) req.on('finish', options.onWritten);
    req.end();
  });
}

/** Resolves once `server` has received `count` requests from now on: they are in flight, their handlers have run. */
export function requestsSeen(server: http.Server | https.Server, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onRequest = (): void => {
      if (++seen < count) return;
      server.off('request', onRequest);
      resolve();
    };
    server.on('request', onRequest);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `predicate` holds, checking on each event-loop turn; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/**
 * Fixtures load `@keel/drain` from its built `dist/`: fail with a clear message,
 * not a confusing assertion, when the build is older than a source file.
 */
export function assertBuilt(): void {
  const packageDir = path.join(__dirname, '..');
  for (const file of fs.readdirSync(path.join(packageDir, 'src')).filter((name) => name.endsWith('.ts'))) {
    const built = path.join(packageDir, 'dist', file.replace(/\.ts$/, '.js'));
    if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(path.join(packageDir, 'src', file)).mtimeMs) {
      throw new Error(`packages/drain/dist is older than src/${file}: run \`npm run build\` before these tests`);
    }
  }
}
