'use strict';
const { loadExpress, mountRoutes, requireKeel } = require('./_shared');

module.exports = {
  title: '@keel/async-guard alone',
  group: 'keel',
  target: 0.97,
  setup: 'installProcessGuards(); guardApp(express()); app.use(asyncGuard())',
  build() {
    const { asyncGuard, guardApp, installProcessGuards } = requireKeel('async-guard', ['asyncGuard', 'guardApp', 'installProcessGuards']);
    installProcessGuards();
    const app = guardApp(loadExpress(5)());
    app.use(asyncGuard());
    return { app: mountRoutes(app) };
  },
};
