'use strict';
const { buildStack } = require('./_stack');

module.exports = {
  title: 'keel full stack',
  group: 'stack',
  floor: 'floor-stack',
  target: 0.95,
  limits: { p99: 1.5, rssMiB: 10 },
  setup: 'installProcessGuards(); guardApp(express()); probes(), traceId(), timeout(), routes, notFound(), errorHandler(); drainOnShutdown(server)',
  build: () => buildStack(),
};
