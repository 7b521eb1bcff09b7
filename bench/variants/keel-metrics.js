'use strict';
const { loadExpress, mountRoutes, requireKeel, requireOptional } = require('./_shared');

module.exports = {
  title: '@keel/metrics alone',
  group: 'keel',
  target: 0.97,
  fasterThan: ['express-prom-bundle'],
  setup: 'app.use(metrics({ registry })): duration histogram by method, route, status code; requests in flight',
  build() {
    const { metrics } = requireKeel('metrics', ['metrics']);
    const { Registry } = requireOptional('prom-client');
    const app = loadExpress(5)();
    app.use(metrics({ registry: new Registry() }));
    return { app: mountRoutes(app) };
  },
};
