'use strict';
// The hand-written floor of the full stack split the way keel is mounted: the
// same essential work as floor-stack, in three middleware layers (probes, the
// trace ID, the deadline) instead of one, so the difference between the two
// floors is what Express charges per layer; no keel code.
const { AsyncLocalStorage } = require('node:async_hooks');
const { loadExpress, mountRoutes } = require('./_shared');
const { armDeadline, countInFlight, idPool } = require('./_floor');

module.exports = {
  title: 'hand-written floor: the full stack, one layer per package',
  group: 'floor',
  setup: 'three middlewares (requests in flight per connection and probe paths; trace ID in context and header; deadline timer cleared on close), a 404 and an error handler',
  build() {
    const als = new AsyncLocalStorage();
    const nextIds = idPool();
    let ready = true;
    const app = loadExpress(5)();
    app.use(function floorProbes(req, res, next) {
      countInFlight(req, res);
      if (req.url === '/livez' || req.url === '/readyz') {
        res.statusCode = req.url === '/readyz' && !ready ? 503 : 200;
        res.end();
        return;
      }
      next();
    });
    app.use(function floorTraceId(req, res, next) {
      const { traceId, spanId } = nextIds();
      res.setHeader('x-request-id', traceId);
      als.run({ req, res, traceId, spanId, deadline: undefined }, next);
    });
    app.use(function floorDeadline(req, res, next) {
      const context = als.getStore();
      context.deadline = Date.now() + 10_000;
      armDeadline(res, next, 10_000);
      next();
    });
    mountRoutes(app);
    app.use((req, res) => res.status(404).json({ status: 404 }));
    app.use((error, req, res, _next) => res.status(error.status || 500).json({ status: error.status || 500, traceId: als.getStore()?.traceId }));
    return { app, attach: () => { ready = true; } };
  },
};
