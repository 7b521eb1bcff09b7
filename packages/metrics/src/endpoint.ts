import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { peekDefaultLifecycle, type Lifecycle } from '@keel/lifecycle';
import { register as globalRegistry } from 'prom-client';
import { resolveEndpointOptions, resolveServeOptions, type MetricsEndpointOptions, type ServeMetricsOptions } from './options';
import { toOpenMetrics } from './open-metrics';

/** The handler {@link metricsEndpoint} returns: a route handler, or a plain Node request listener. */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const OPENMETRICS_TEXT = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** True when the scraper prefers OpenMetrics (Prometheus asks for it first by default). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let openMetrics = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((param) => param.trim()).find((param) => param.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (!Number.isFinite(weight)) continue;
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, weight);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, weight);
  }
  return openMetrics > 0 && openMetrics >= text;
}

/**
 * The handler of `GET /metrics`: the registry in Prometheus' text format, or in
 * OpenMetrics when the scraper asks for it (`Accept: application/openmetrics-text`).
 * Mount it on an internal port ({@link serveMetrics}) rather than on the public app.
 *
 * @example
 * app.get('/metrics', metricsEndpoint());
 */
export function metricsEndpoint(options?: MetricsEndpointOptions): MetricsHandler {
  const registry = resolveEndpointOptions(options).registry ?? globalRegistry;
  return function metricsEndpointHandler(req, res, next) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end();
      return;
    }
    const openMetrics = wantsOpenMetrics(req.headers.accept);
    registry.metrics().then(
      (text) => {
        const body = openMetrics ? toOpenMetrics(text) : text;
        res.statusCode = 200;
        res.setHeader('Content-Type', openMetrics ? OPENMETRICS_TEXT : PROMETHEUS_TEXT);
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Content-Length', Buffer.byteLength(body));
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        if (next !== undefined) next(error);
        else {
          res.statusCode = 500;
          res.end();
        }
      },
    );
  };
}

/** What {@link serveMetrics} returns. */
export interface MetricsServer {
  /** The HTTP server answering scrapes. */
  readonly server: http.Server;
  /** Resolves with the URL to scrape once the server listens (rejects if it cannot listen). */
  readonly ready: Promise<string>;
  /** Closes the server (and drops its shutdown hook); resolves once closed. */
  close(): Promise<void>;
}

/**
 * Serves the metrics on their own port (default 9464, on loopback), apart from
 * the app: scrapes do not count as traffic, are never exposed with the app, and
 * keep being answered during a drain, while `/readyz` says 503, so the scrapes
 * during a shutdown see it. The lifecycle's last phase (`flush`) closes it,
 * optionally after one more scrape (`finalScrapeTimeout`).
 */
export function serveMetrics(options?: ServeMetricsOptions): MetricsServer {
  const resolved = resolveServeOptions(options);
  const handler = metricsEndpoint({ registry: resolved.registry ?? globalRegistry });
  const scrapes = new ScrapeWaiters();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== resolved.path) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.once('finish', () => scrapes.served());
    handler(req, res);
  });
  // Scrapers reuse connections: an idle one must not hold close() open.
  server.keepAliveTimeout = 5_000;
  const ready = new Promise<string>((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off('error', reject);
      const { address, port, family } = server.address() as AddressInfo;
      resolve(`http://${family === 'IPv6' ? `[${address}]` : address}:${port}${resolved.path}`);
    });
  });
  // The caller awaits ready when it cares; an unhandled rejection must not be the only report.
  ready.catch(() => {});

  // A scrape under way finishes; past `deadline` its connection is cut.
  const close = (deadline = Infinity): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      let cut: NodeJS.Timeout | undefined;
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      server.closeIdleConnections();
      if (Number.isFinite(deadline)) cut = setTimeout(() => server.closeAllConnections(), Math.max(0, deadline - Date.now()));
    });

  const lifecycle: Lifecycle | undefined = resolved.lifecycle ?? peekDefaultLifecycle();
  let unhook = (): void => {};
  if (lifecycle !== undefined) {
    unhook = lifecycle.onShutdown(
      'close-metrics-server',
      async ({ deadline }) => {
        // Leave the close a moment within the hook's deadline.
        const closeBy = deadline - Math.min(200, (deadline - Date.now()) / 4);
        if (resolved.finalScrapeTimeout > 0) await scrapes.next(Math.min(Date.now() + resolved.finalScrapeTimeout, closeBy));
        await close(closeBy);
      },
      { phase: 'flush' },
    );
  }
  return {
    server,
    ready,
    close: () => {
      unhook();
      return close(Date.now() + 1_000);
    },
  };
}

/** Lets a shutdown hook wait for the next scrape served, up to a deadline. */
class ScrapeWaiters {
  #waiters: Array<() => void> = [];

  served(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  next(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
