'use strict';
const { loadExpress, mountRoutes, requireOptional } = require('./_shared');

module.exports = {
  title: 'connect-timeout',
  group: 'comparator',
  setup: "app.use(timeout('10s'))",
  build() {
    const timeout = requireOptional('connect-timeout');
    const app = loadExpress(5)();
    app.use(timeout('10s'));
    return { app: mountRoutes(app) };
  },
};
