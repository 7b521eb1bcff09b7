// Preloaded with `--require` to run a recipe's app file on Express 4 unchanged:
// the file says require('express'), and here that resolves to the express4 alias.
const Module = require('node:module');

const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveExpress4(request, ...rest) {
  return resolve.call(this, request === 'express' ? 'express4' : request, ...rest);
};
