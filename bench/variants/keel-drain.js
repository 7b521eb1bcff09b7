'use strict';
const { loadExpress, mountRoutes, requireKeel } = require('./_shared');

module.exports = {
  title: '@keel/drain alone',
  group: 'keel',
  target: 0.99,
  setup: 'drainOnShutdown(app.listen())',
  build() {
    const { drainOnShutdown } = requireKeel('drain', ['drainOnShutdown']);
    return { app: mountRoutes(loadExpress(5)()), attach: (server) => drainOnShutdown(server) };
  },
};
