'use strict';
const { loadExpress, mountRoutes, requireOptional } = require('./_shared');

module.exports = {
  title: 'cls-rtracer',
  group: 'comparator',
  setup: 'app.use(rTracer.expressMiddleware())',
  build() {
    const rTracer = requireOptional('cls-rtracer');
    const app = loadExpress(5)();
    app.use(rTracer.expressMiddleware());
    return { app: mountRoutes(app) };
  },
};
