'use strict';
// The keep-alive load and request classification the drill runs on: the same
// harness @keel/drain's own tests use (one definition of "lost" for both).
module.exports = require('../packages/drain/test/support/shutdown-load.js');
