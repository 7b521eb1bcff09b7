'use strict';
// The hand-written floor of what a drain needs per request: the count of
// requests in flight on each connection, so that a shutdown can tell idle
// connections from busy ones, kept by one 'request' listener and one shared
// 'close' listener per response; no keel code.
const { loadExpress, mountRoutes } = require('./_shared');
const { countInFlight } = require('./_floor');

module.exports = {
  title: 'hand-written floor: requests in flight per connection',
  group: 'floor',
  setup: "server.prependListener('request'): a per-socket count of requests in flight, one shared 'close' listener per response",
  build() {
    return {
      app: mountRoutes(loadExpress(5)()),
      attach(server) {
        server.prependListener('request', countInFlight);
      },
    };
  },
};
