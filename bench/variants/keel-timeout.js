'use strict';
const { loadExpress, mountRoutes, requireKeel } = require('./_shared');

module.exports = {
  title: '@keel/timeout alone',
  group: 'keel',
  floor: 'floor-timeout',
  target: 0.97,
  fasterThan: ['connect-timeout'],
  setup: "app.use(timeout({ duration: '10s' }))",
  build() {
    const { timeout } = requireKeel('timeout', ['timeout']);
    const app = loadExpress(5)();
    app.use(timeout({ duration: '10s' }));
    return { app: mountRoutes(app) };
  },
};
