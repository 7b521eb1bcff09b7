'use strict';
// The full keel stack in the order every recipe mounts it, with switches for
// the variants that add one winston access line per request or the cls-hooked
// backend, and for leaving parts out (what each part costs is the stack's
// cost less that of the stack without it).

const fs = require('node:fs');
const { loadExpress, mountRoutes, requireKeel, requireOptional } = require('./_shared');

/** The parts `without` can leave out of the stack. */
const PARTS = Object.freeze(['process-guards', 'guard', 'probes', 'trace', 'timeout', 'error-handler', 'drain']);

function buildStack({ winstonLine = false, clsHooked = false, without = new Set() } = {}) {
  for (const part of without) if (!PARTS.includes(part)) throw new Error(`unknown stack part ${part}; parts: ${PARTS.join(', ')}`);
  const has = (part) => !without.has(part);
  const lifecycle = requireKeel('lifecycle', ['probes', 'getDefaultLifecycle', 'bind', 'useClsHooked']);
  const { traceId, traceFormat, traceMeta } = requireKeel('trace-id', ['traceId', 'traceFormat', 'traceMeta']);
  const { timeout } = requireKeel('timeout', ['timeout']);
  const { guardApp, installProcessGuards } = requireKeel('async-guard', ['guardApp', 'installProcessGuards']);
  const { errorHandler, notFound } = requireKeel('error-handler', ['errorHandler', 'notFound']);
  const { drainOnShutdown } = requireKeel('drain', ['drainOnShutdown']);

  if (clsHooked) lifecycle.useClsHooked(requireOptional('cls-hooked').createNamespace('keel-bench'));
  if (has('process-guards')) installProcessGuards();

  const app = has('guard') ? guardApp(loadExpress(5)()) : loadExpress(5)();
  if (has('probes')) app.use(lifecycle.probes());
  if (has('trace')) app.use(traceId());
  if (has('timeout')) app.use(timeout({ duration: '10s' }));
  if (winstonLine) app.use(accessLog(requireOptional('winston'), traceFormat, traceMeta, lifecycle.bind));
  mountRoutes(app);
  if (has('error-handler')) {
    app.use(notFound());
    app.use(errorHandler());
  }

  return {
    app,
    attach(server) {
      if (has('drain')) drainOnShutdown(server);
      lifecycle.getDefaultLifecycle().markReady();
    },
  };
}

/**
 * One JSON access line per request through winston, stamped with the trace ID:
 * formatted and written to a real stream (/dev/null), so the cost is winston's,
 * not a terminal's.
 */
function accessLog(winston, traceFormat, traceMeta, bind) {
  const logger = winston.createLogger({
    level: 'info',
    defaultMeta: traceMeta(),
    format: winston.format.combine(traceFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: fs.createWriteStream('/dev/null') })],
  });
  return function accessLogMiddleware(req, res, next) {
    const startedAt = performance.now();
    // Bound here, so the line is logged in the request's context.
    res.once(
      'finish',
      bind(() => {
        logger.info('request', { method: req.method, path: req.path, status: res.statusCode, durationMs: Math.round((performance.now() - startedAt) * 100) / 100 });
      }),
    );
    next();
  };
}

module.exports = { buildStack, PARTS };
