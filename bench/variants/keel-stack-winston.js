'use strict';
const { buildStack } = require('./_stack');

module.exports = {
  title: 'keel full stack + winston line',
  group: 'stack',
  target: 0.8,
  setup: 'the full stack + one winston JSON access line per request (traceFormat, to /dev/null)',
  build: () => buildStack({ winstonLine: true }),
};
