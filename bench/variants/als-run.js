'use strict';
const { AsyncLocalStorage } = require('node:async_hooks');
const { loadExpress, mountRoutes } = require('./_shared');

module.exports = {
  title: 'AsyncLocalStorage run() (floor)',
  group: 'reference',
  setup: 'app.use((req, res, next) => als.run({ req }, next))',
  build() {
    const als = new AsyncLocalStorage();
    const app = loadExpress(5)();
    app.use(function alsRun(req, _res, next) {
      als.run({ req }, next);
    });
    return { app: mountRoutes(app) };
  },
};
