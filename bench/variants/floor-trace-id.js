'use strict';
// The hand-written floor of trace-id's essential work: a W3C trace ID made per
// request, kept in an AsyncLocalStorage context and echoed in a header; no keel code.
const { AsyncLocalStorage } = require('node:async_hooks');
const { loadExpress, mountRoutes } = require('./_shared');
const { idPool } = require('./_floor');

module.exports = {
  title: 'hand-written floor: trace ID in context and header',
  group: 'floor',
  setup: 'one middleware: 16 random bytes as hex, als.run({ traceId }, next), res.setHeader()',
  build() {
    const als = new AsyncLocalStorage();
    const nextIds = idPool();
    const app = loadExpress(5)();
    app.use(function floorTraceId(req, res, next) {
      const { traceId, spanId } = nextIds();
      res.setHeader('x-request-id', traceId);
      als.run({ req, res, traceId, spanId }, next);
    });
    return { app: mountRoutes(app) };
  },
};
