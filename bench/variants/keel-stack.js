'use strict';
const { buildStack } = require('./_stack');

module.exports = {
  title: 'keel full stack',
  group: 'stack',
  target: 0.92,
  setup: 'installProcessGuards(); guardApp(express()); probes(), traceId(), timeout(), routes, notFound(), errorHandler(); drainOnShutdown(server)',
  build: () => buildStack(),
};
