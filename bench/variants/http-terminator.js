'use strict';
const { loadExpress, mountRoutes, requireOptional } = require('./_shared');

module.exports = {
  title: 'http-terminator attached',
  group: 'reference',
  setup: 'createHttpTerminator({ server })',
  build() {
    const { createHttpTerminator } = requireOptional('http-terminator');
    return { app: mountRoutes(loadExpress(5)()), attach: (server) => createHttpTerminator({ server }) };
  },
};
