'use strict';
// The hand-written floor of trace-id's essential work: a W3C trace ID made per
// request, kept in an AsyncLocalStorage context and echoed in a header; no keel code.
const { AsyncLocalStorage } = require('node:async_hooks');
const { randomBytes } = require('node:crypto');
const { loadExpress, mountRoutes } = require('./_shared');

module.exports = {
  title: 'hand-written floor: trace ID in context and header',
  group: 'floor',
  setup: 'one middleware: 16 random bytes as hex, als.run({ traceId }, next), res.setHeader()',
  build() {
    const als = new AsyncLocalStorage();
    // Random bytes drawn in blocks, as any careful ID generator does.
    let pool = randomBytes(4096);
    let offset = 0;
    const app = loadExpress(5)();
    app.use(function floorTraceId(req, res, next) {
      if (offset + 24 > pool.length) {
        pool = randomBytes(4096);
        offset = 0;
      }
      const traceId = pool.toString('hex', offset, offset + 16);
      const spanId = pool.toString('hex', offset + 16, offset + 24);
      offset += 24;
      res.setHeader('x-request-id', traceId);
      als.run({ req, res, traceId, spanId }, next);
    });
    return { app: mountRoutes(app) };
  },
};
