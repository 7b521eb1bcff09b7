'use strict';
const { loadExpress, mountRoutes, requireOptional } = require('./_shared');

// The same histogram as @keel/metrics: one duration histogram by method, path and status, same buckets.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

module.exports = {
  title: 'express-prom-bundle',
  group: 'comparator',
  setup: 'app.use(promBundle({ includeMethod, includePath, buckets, autoregister: false }))',
  build() {
    const promBundle = requireOptional('express-prom-bundle');
    const { Registry } = requireOptional('prom-client');
    const app = loadExpress(5)();
    app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true, includeUp: false, buckets: BUCKETS, autoregister: false, promRegistry: new Registry() }));
    return { app: mountRoutes(app) };
  },
};
