'use strict';
const { loadExpress, mountRoutes, requireKeel } = require('./_shared');

module.exports = {
  title: '@keel/error-handler alone',
  group: 'keel',
  target: 0.99,
  setup: 'routes, then app.use(notFound()); app.use(errorHandler())',
  build() {
    const { errorHandler, notFound } = requireKeel('error-handler', ['errorHandler', 'notFound']);
    const app = mountRoutes(loadExpress(5)());
    app.use(notFound());
    app.use(errorHandler());
    return { app };
  },
};
