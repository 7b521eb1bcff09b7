'use strict';
const { loadExpress, mountRoutes, requireKeel } = require('./_shared');

module.exports = {
  title: '@keel/trace-id alone',
  group: 'keel',
  floor: 'floor-trace-id',
  target: 0.97,
  fasterThan: ['cls-rtracer', 'express-http-context'],
  setup: 'app.use(traceId())',
  build() {
    const { traceId } = requireKeel('trace-id', ['traceId']);
    const app = loadExpress(5)();
    app.use(traceId());
    return { app: mountRoutes(app) };
  },
};
