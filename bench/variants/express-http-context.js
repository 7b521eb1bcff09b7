'use strict';
const { randomUUID } = require('node:crypto');
const { loadExpress, mountRoutes, requireOptional } = require('./_shared');

module.exports = {
  title: 'express-http-context',
  group: 'comparator',
  setup: "app.use(httpContext.middleware); httpContext.set('requestId', randomUUID())",
  build() {
    const httpContext = requireOptional('express-http-context');
    const app = loadExpress(5)();
    app.use(httpContext.middleware);
    // A request ID in the context, as trace-id and cls-rtracer keep one.
    app.use((req, _res, next) => {
      httpContext.set('requestId', req.get('x-request-id') || randomUUID());
      next();
    });
    return { app: mountRoutes(app) };
  },
};
