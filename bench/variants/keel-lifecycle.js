'use strict';
const { loadExpress, mountRoutes, requireKeel } = require('./_shared');

module.exports = {
  title: '@keel/lifecycle alone',
  group: 'keel',
  target: 0.97,
  setup: 'app.use(probes()); app.use(requestContext())',
  build() {
    const { probes, requestContext, getDefaultLifecycle } = requireKeel('lifecycle', ['probes', 'requestContext', 'getDefaultLifecycle']);
    const app = loadExpress(5)();
    app.use(probes());
    app.use(requestContext());
    mountRoutes(app);
    return { app, attach: () => getDefaultLifecycle().markReady() };
  },
};
