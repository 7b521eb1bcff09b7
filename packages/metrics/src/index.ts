export { metrics } from './metrics';
export type { MetricsMiddleware } from './metrics';
export { metricsEndpoint, serveMetrics } from './endpoint';
export type { MetricsHandler, MetricsServer } from './endpoint';
export { DEFAULTS, ENDPOINT_DEFAULTS, SERVE_DEFAULTS, resolveOptions, resolveEndpointOptions, resolveServeOptions } from './options';
export type {
  MetricsOptions,
  ResolvedMetricsOptions,
  MetricsEndpointOptions,
  ResolvedMetricsEndpointOptions,
  ServeMetricsOptions,
  ResolvedServeMetricsOptions,
} from './options';
export { KEEL_CHANNELS } from './keel-events';
