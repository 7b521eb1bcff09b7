import type { IncomingMessage } from 'node:http';
import { check, resolveOptions as resolve, type Lifecycle, type OptionCheck } from '@keel/lifecycle';
import type { Registry } from 'prom-client';

/** Options of {@link metrics}. */
export interface MetricsOptions {
  /**
   * The prom-client registry the metrics are registered in. Mounting `metrics()`
   * twice on one registry shares the same metrics.
   * @defaultValue prom-client's global `register`
   */
  registry?: Registry;
  /**
   * Upper bounds of the request duration histogram, in seconds.
   * @defaultValue `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`
   */
  buckets?: readonly number[];
  /**
   * Also record `http_request_size_bytes` (from `Content-Length`) and
   * `http_response_size_bytes` (bytes written), each a histogram by method and route.
   * @defaultValue `false`
   */
  sizes?: boolean;
  /**
   * Upper bounds of the size histograms, in bytes.
   * @defaultValue `[100, 1000, 10000, 100000, 1000000, 10000000]`
   */
  sizeBuckets?: readonly number[];
  /**
   * The `route` label of requests no route matched (404s, scanners, requests
   * answered by middleware before the router): one value, whatever the path.
   * @defaultValue `'<unmatched>'`
   */
  unmatchedRoute?: string;
  /**
   * The `route` label of a request, when Express's matched route is not what you
   * want; return `undefined` for the unmatched label. It must return a bounded set
   * of values (a pattern, never a raw path).
   * @defaultValue the mount path of the router plus the matched route's path
   */
  routeOf?: (req: IncomingMessage) => string | undefined;
  /**
   * Subscribe to what the other keel packages publish on `diagnostics_channel`
   * (deadlines, errors, faults, lifecycle, drain, outbound, chaos).
   * @defaultValue `true`
   */
  keelEvents?: boolean;
  /**
   * Also collect prom-client's default process metrics (CPU, memory, event loop lag, ...).
   * @defaultValue `false`
   */
  defaultMetrics?: boolean;
  /**
   * Largest number of distinct values kept for a label fed from outside the code
   * (an error's `code`, an outbound `origin`, a server name); later values share
   * the label value `other`.
   * @defaultValue `100`
   */
  maxLabelValues?: number;
  /**
   * The lifecycle whose state and shutdown are recorded. When unset, every
   * lifecycle's events are recorded, and the state starts from the process default
   * lifecycle, if one exists (it is never created).
   * @defaultValue `undefined`
   */
  lifecycle?: Lifecycle;
}

/** {@link MetricsOptions} after defaults and checks. */
export interface ResolvedMetricsOptions {
  readonly registry: Registry | undefined;
  readonly buckets: readonly number[];
  readonly sizes: boolean;
  readonly sizeBuckets: readonly number[];
  readonly unmatchedRoute: string;
  readonly routeOf: ((req: IncomingMessage) => string | undefined) | undefined;
  readonly keelEvents: boolean;
  readonly defaultMetrics: boolean;
  readonly maxLabelValues: number;
  readonly lifecycle: Lifecycle | undefined;
}

/** The one source of {@link MetricsOptions} defaults. */
export const DEFAULTS: ResolvedMetricsOptions = Object.freeze({
  registry: undefined,
  buckets: Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  sizes: false,
  sizeBuckets: Object.freeze([100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]),
  unmatchedRoute: '<unmatched>',
  routeOf: undefined,
  keelEvents: true,
  defaultMetrics: false,
  maxLabelValues: 100,
  lifecycle: undefined,
});

/** Options of {@link metricsEndpoint}. */
export interface MetricsEndpointOptions {
  /**
   * The registry served.
   * @defaultValue prom-client's global `register`
   */
  registry?: Registry;
}

/** {@link MetricsEndpointOptions} after defaults and checks. */
export interface ResolvedMetricsEndpointOptions {
  readonly registry: Registry | undefined;
}

/** The one source of {@link MetricsEndpointOptions} defaults. */
export const ENDPOINT_DEFAULTS: ResolvedMetricsEndpointOptions = Object.freeze({ registry: undefined });

/** Options of {@link serveMetrics}. */
export interface ServeMetricsOptions {
  /**
   * The port of the metrics server; `0` picks a free one.
   * @defaultValue `9464`
   */
  port?: number;
  /**
   * The address it listens on. Loopback by default, so metrics are never exposed
   * by accident: set `'0.0.0.0'` (or the pod IP) where only the scraper reaches the port.
   * @defaultValue `'127.0.0.1'`
   */
  host?: string;
  /**
   * The path metrics are served on; every other path answers 404.
   * @defaultValue `'/metrics'`
   */
  path?: string;
  /**
   * The registry served.
   * @defaultValue prom-client's global `register`
   */
  registry?: Registry;
  /**
   * The lifecycle whose shutdown closes the metrics server, in its last (`flush`)
   * phase, so it answers through the drain and cleanup. When unset, the process
   * default lifecycle if one exists (it is never created); with none, close it yourself.
   * @defaultValue `undefined`
   */
  lifecycle?: Lifecycle;
  /**
   * At shutdown, how long the metrics server waits for one more scrape after the
   * drain ended before it closes, so the last scrape sees the drain. `0` closes at once.
   * Keep it below your scrape interval plus the flush phase.
   * @defaultValue `0`
   */
  finalScrapeTimeout?: number | string;
}

/** {@link ServeMetricsOptions} after defaults and checks, durations in ms. */
export interface ResolvedServeMetricsOptions {
  readonly port: number;
  readonly host: string;
  readonly path: string;
  readonly registry: Registry | undefined;
  readonly lifecycle: Lifecycle | undefined;
  readonly finalScrapeTimeout: number;
}

/** The one source of {@link ServeMetricsOptions} defaults. */
export const SERVE_DEFAULTS: ResolvedServeMetricsOptions = Object.freeze({
  port: 9464,
  host: '127.0.0.1',
  path: '/metrics',
  registry: undefined,
  lifecycle: undefined,
  finalScrapeTimeout: 0,
});

const PACKAGE = '@keel/metrics';

const registryCheck: OptionCheck<Registry | undefined> = (value, fail) => {
  const candidate = value as Partial<Registry> | null;
  const ok = typeof candidate === 'object' && candidate !== null && typeof candidate.registerMetric === 'function' && typeof candidate.getSingleMetric === 'function' && typeof candidate.metrics === 'function';
  return ok ? (value as Registry) : fail('a prom-client Registry (new Registry(), or register)');
};

const lifecycleCheck: OptionCheck<Lifecycle | undefined> = (value, fail) => {
  const candidate = value as Partial<Lifecycle> | null;
  const ok = typeof candidate === 'object' && candidate !== null && typeof candidate.on === 'function' && typeof candidate.onShutdown === 'function' && 'state' in candidate;
  return ok ? (value as Lifecycle) : fail('a Lifecycle from @keel/lifecycle (createLifecycle())');
};

function bucketsCheck(min: number, unit: string): OptionCheck<readonly number[]> {
  return (value, fail) => {
    const expected = `a non-empty array of increasing finite numbers above ${min} (${unit})`;
    if (!Array.isArray(value) || value.length === 0 || value.length > 64) return fail(expected);
    for (const [index, bound] of value.entries()) {
      if (typeof bound !== 'number' || !Number.isFinite(bound) || bound <= min || (index > 0 && bound <= (value[index - 1] as number))) return fail(expected);
    }
    return Object.freeze([...(value as number[])]);
  };
}

// A label value is free text to Prometheus, but this one is read in dashboards and alerts: keep it printable and short.
const LABEL_VALUE = /^[\x21-\x7e][\x20-\x7e]{0,63}$/;

/** Checks the options of {@link metrics} and fills in defaults; throws an InvalidOptionError on a bad one. */
export function resolveOptions(input?: MetricsOptions): ResolvedMetricsOptions {
  return resolve<ResolvedMetricsOptions>(PACKAGE, input, DEFAULTS, {
    registry: registryCheck,
    buckets: bucketsCheck(0, 'seconds'),
    sizes: check.boolean(),
    sizeBuckets: bucketsCheck(0, 'bytes'),
    unmatchedRoute: check.string(LABEL_VALUE, 'a printable ASCII string of 1 to 64 characters'),
    routeOf: check.function<(req: IncomingMessage) => string | undefined>(),
    keelEvents: check.boolean(),
    defaultMetrics: check.boolean(),
    maxLabelValues: check.number(1, 10_000, true),
    lifecycle: lifecycleCheck,
  });
}

/** Checks the options of {@link metricsEndpoint}. */
export function resolveEndpointOptions(input?: MetricsEndpointOptions): ResolvedMetricsEndpointOptions {
  return resolve<ResolvedMetricsEndpointOptions>(PACKAGE, input, ENDPOINT_DEFAULTS, { registry: registryCheck });
}

/** Checks the options of {@link serveMetrics}. */
export function resolveServeOptions(input?: ServeMetricsOptions): ResolvedServeMetricsOptions {
  return resolve<ResolvedServeMetricsOptions>(PACKAGE, input, SERVE_DEFAULTS, {
    port: check.number(0, 65_535, true),
    host: check.string(undefined, 'a host name or IP address'),
    path: check.string(/^\/[\x21-\x7e]*$/, "a path starting with '/'"),
    registry: registryCheck,
    lifecycle: lifecycleCheck,
    finalScrapeTimeout: check.duration(0, 10 * 60_000),
  });
}
