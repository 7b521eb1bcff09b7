'use strict';
// The hand-written floor of a request-duration histogram: the start time on
// the request, one shared 'close' listener per response, and one observation
// of prom-client's Histogram by method, route pattern and status code (the
// buckets of @keel/metrics); no keel code.
const { performance } = require('node:perf_hooks');
const { loadExpress, mountRoutes, requireOptional } = require('./_shared');

module.exports = {
  title: 'hand-written floor: a duration histogram with prom-client',
  group: 'floor',
  setup: "the start time on req, res.on('close', shared listener), histogram.observe({ method, route, status_code }, seconds)",
  build() {
    const { Histogram, Registry } = requireOptional('prom-client');
    const histogram = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Request duration by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [new Registry()],
    });
    const STARTED_AT = Symbol('startedAt');
    function responseClosed() {
      const req = this.req;
      const route = req.route ? req.baseUrl + req.route.path : '<unmatched>';
      histogram.observe({ method: req.method, route, status_code: this.statusCode }, (performance.now() - req[STARTED_AT]) / 1000);
    }
    const app = loadExpress(5)();
    app.use(function floorMetrics(req, res, next) {
      req[STARTED_AT] = performance.now();
      res.on('close', responseClosed);
      next();
    });
    return { app: mountRoutes(app) };
  },
};
