'use strict';
const { loadExpress, mountRoutes } = require('./_shared');

module.exports = {
  title: 'bare Express 4',
  group: 'baseline',
  setup: 'express@4 + the two routes',
  build() {
    return { app: mountRoutes(loadExpress(4)()) };
  },
};
