'use strict';
// The hand-written floor of timeout's essential work: a deadline and an
// AbortController-ready context per request in AsyncLocalStorage, one timer per
// request cleared when the response closes; no keel code.
const { AsyncLocalStorage } = require('node:async_hooks');
const { loadExpress, mountRoutes } = require('./_shared');
const { armDeadline } = require('./_floor');

module.exports = {
  title: 'hand-written floor: deadline in context',
  group: 'floor',
  setup: 'one middleware: als.run({ deadline }, next), setTimeout() per request, cleared on res close',
  build() {
    const als = new AsyncLocalStorage();
    const app = loadExpress(5)();
    app.use(function floorTimeout(req, res, next) {
      const context = { req, res, deadline: Date.now() + 10_000 };
      armDeadline(res, next, 10_000);
      als.run(context, next);
    });
    return { app: mountRoutes(app) };
  },
};
