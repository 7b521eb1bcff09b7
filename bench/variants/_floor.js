'use strict';
// What the hand-written floors share: IDs drawn from a pool of random bytes, as
// any careful ID generator does, and the deadline a floor arms per request.

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

module.exports = { idPool, armDeadline };
