'use strict';
// The hand-written floor of what a drain needs per request: the count of
// requests in flight on each connection, so that a shutdown can tell idle
// connections from busy ones, kept by one 'request' listener and one shared
// 'close' listener per response; no keel code.
const { loadExpress, mountRoutes } = require('./_shared');

module.exports = {
  title: 'hand-written floor: requests in flight per connection',
  group: 'floor',
  setup: "server.prependListener('request'): a per-socket count of requests in flight, one shared 'close' listener per response",
  build() {
    const IN_FLIGHT = Symbol('inFlight');
    function responseClosed() {
      const socket = this.req.socket;
      if (socket) socket[IN_FLIGHT]--;
    }
    return {
      app: mountRoutes(loadExpress(5)()),
      attach(server) {
        server.prependListener('request', (req, res) => {
          const socket = req.socket;
          socket[IN_FLIGHT] = (socket[IN_FLIGHT] || 0) + 1;
          res.on('close', responseClosed);
        });
      },
    };
  },
};
