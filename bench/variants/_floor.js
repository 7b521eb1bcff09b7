'use strict';
// What the hand-written floors share: IDs drawn from a pool of random bytes, as
// any careful ID generator does, the deadline a floor arms per request, and the
// count of requests in flight per connection that a drain needs.

const { randomBytes } = require('node:crypto');

/** Returns a function that makes `{ traceId, spanId }` (32 and 16 hex characters) from a 4 KB random pool. */
function idPool() {
  let pool = randomBytes(4096);
  let offset = 0;
  return function nextIds() {
    if (offset + 24 > pool.length) {
      pool = randomBytes(4096);
      offset = 0;
    }
    const traceId = pool.toString('hex', offset, offset + 16);
    const spanId = pool.toString('hex', offset + 16, offset + 24);
    offset += 24;
    return { traceId, spanId };
  };
}

/** Arms one timer per request that hands a 503 to `next` unless the response closed first. */
function armDeadline(res, next, ms) {
  const timer = setTimeout(() => {
    if (!res.headersSent) next(Object.assign(new Error('deadline exceeded'), { status: 503 }));
  }, ms);
  res.once('close', () => clearTimeout(timer));
}

const IN_FLIGHT = Symbol('inFlight');

function responseClosed() {
  const socket = this.req.socket;
  if (socket) socket[IN_FLIGHT]--;
}

/**
 * Counts the requests in flight on each connection, as a drain needs to tell
 * idle connections from busy ones at shutdown: one shared 'close' listener per
 * response.
 */
function countInFlight(req, res) {
  const socket = req.socket;
  socket[IN_FLIGHT] = (socket[IN_FLIGHT] || 0) + 1;
  res.on('close', responseClosed);
}

module.exports = { idPool, armDeadline, countInFlight };
