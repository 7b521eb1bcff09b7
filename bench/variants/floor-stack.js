'use strict';
// The hand-written floor of the full stack's essential work in one middleware:
// the requests in flight counted per connection (what a drain needs), probes
// answered on their paths, a trace ID in context and header, a deadline with
// one timer per request, an error handler last; no keel code.
const { AsyncLocalStorage } = require('node:async_hooks');
const { loadExpress, mountRoutes } = require('./_shared');
const { armDeadline, countInFlight, idPool } = require('./_floor');

module.exports = {
  title: 'hand-written floor: the full stack',
  group: 'floor',
  setup: 'one middleware: requests in flight per connection, probe paths, trace ID (hex) in context and header, als.run(), setTimeout() per request cleared on close; a 404 and an error handler',
  build() {
    const als = new AsyncLocalStorage();
    const nextIds = idPool();
    let ready = true;
    const app = loadExpress(5)();
    app.use(function floorStack(req, res, next) {
      countInFlight(req, res);
      if (req.url === '/livez' || req.url === '/readyz') {
        res.statusCode = req.url === '/readyz' && !ready ? 503 : 200;
        res.end();
        return;
      }
      const { traceId, spanId } = nextIds();
      res.setHeader('x-request-id', traceId);
      const context = { req, res, traceId, spanId, deadline: Date.now() + 10_000 };
      armDeadline(res, next, 10_000);
      als.run(context, next);
    });
    mountRoutes(app);
    app.use((req, res) => res.status(404).json({ status: 404 }));
    app.use((error, req, res, _next) => res.status(error.status || 500).json({ status: error.status || 500, traceId: als.getStore()?.traceId }));
    return { app, attach: () => { ready = true; } };
  },
};
