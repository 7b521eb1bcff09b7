'use strict';
const { buildStack } = require('./_stack');

function withoutParts(parameter) {
  if (parameter === undefined) return new Set();
  if (!parameter.startsWith('without-')) throw new Error(`keel-stack takes without-<part>+<part>; got ${parameter}`);
  return new Set(parameter.slice('without-'.length).split('+'));
}

module.exports = {
  title: 'keel full stack',
  group: 'stack',
  floor: 'floor-stack',
  target: 0.95,
  limits: { p99: 1.5, rssMiB: 10 },
  setup: 'installProcessGuards(); guardApp(express()); probes(), traceId(), timeout(), routes, notFound(), errorHandler(); drainOnShutdown(server)',
  // `keel-stack:without-guard+drain` leaves those parts out (bench:cpu and bench:instructions).
  build: (parameter) => buildStack({ without: withoutParts(parameter) }),
  describe: (parameter) => `keel full stack without ${[...withoutParts(parameter)].join(', ')}`,
};
