'use strict';
// The hand-written floor of the full stack's essential work in one middleware:
// probes answered on their paths, a trace ID in context and header, a deadline
// with one timer per request, an error handler last; no keel code.
const { AsyncLocalStorage } = require('node:async_hooks');
const { randomBytes } = require('node:crypto');
const { loadExpress, mountRoutes } = require('./_shared');

module.exports = {
  title: 'hand-written floor: the full stack',
  group: 'floor',
  setup: 'one middleware: probe paths, trace ID (hex) in context and header, als.run(), setTimeout() per request cleared on close; a 404 and an error handler',
  build() {
    const als = new AsyncLocalStorage();
    let pool = randomBytes(4096);
    let offset = 0;
    let ready = true;
    const app = loadExpress(5)();
    app.use(function floorStack(req, res, next) {
      if (req.url === '/livez' || req.url === '/readyz') {
        res.statusCode = req.url === '/readyz' && !ready ? 503 : 200;
        res.end();
        return;
      }
      if (offset + 24 > pool.length) {
        pool = randomBytes(4096);
        offset = 0;
      }
      const traceId = pool.toString('hex', offset, offset + 16);
      const spanId = pool.toString('hex', offset + 16, offset + 24);
      offset += 24;
      res.setHeader('x-request-id', traceId);
      const context = { req, res, traceId, spanId, deadline: Date.now() + 10_000 };
      const timer = setTimeout(() => {
        if (!res.headersSent) next(Object.assign(new Error('deadline exceeded'), { status: 503 }));
      }, 10_000);
      res.once('close', () => clearTimeout(timer));
      als.run(context, next);
    });
    mountRoutes(app);
    app.use((req, res) => res.status(404).json({ status: 404 }));
    app.use((error, req, res, _next) => res.status(error.status || 500).json({ status: error.status || 500, traceId: als.getStore()?.traceId }));
    return { app, attach: () => { ready = true; } };
  },
};
