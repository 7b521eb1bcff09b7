'use strict';
// The keep-alive load, the SIGTERM and the classification of every request are
// keel-drill's (@keel/drill): drain's load tests and `npm run drill` share one
// definition of "lost". Loopback only; every wait is bounded.
const { runShutdownLoad, runShutdowns, summarize, classifyError, createClient, LOAD_DEFAULTS } = require('@keel/drill');

module.exports = { runShutdownLoad, runShutdowns, summarize, classifyError, createClient, DEFAULTS: LOAD_DEFAULTS };
