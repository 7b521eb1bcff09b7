'use strict';
// The command-line parsing the repo's own tools (npm run bench, npm run drill) share.

const util = require('node:util');

/**
 * Parses `argv` against `flags` (a `util.parseArgs` options table that has a
 * boolean `help`): prints `help` and exits 0 when asked, throws an Error that
 * ends with `help` on an unknown or malformed flag, else returns the values.
 */
function parseFlags(argv, flags, help) {
  let values;
  try {
    ({ values } = util.parseArgs({ args: argv, options: flags, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new Error(`${error.message}\n\n${help}`);
  }
  if (values.help) {
    process.stdout.write(help);
    process.exit(0);
  }
  return values;
}

module.exports = { parseFlags };
