'use strict';
const { loadExpress, mountRoutes } = require('./_shared');

module.exports = {
  title: 'bare Express 5',
  group: 'baseline',
  setup: 'express() + the two routes',
  build() {
    return { app: mountRoutes(loadExpress(5)()) };
  },
};
