// The same service with every keel package, each added where it belongs.
const express = require('express');
const winston = require('winston');
const createError = require('http-errors');
const { createLifecycle, setDefaultLifecycle, probes } = require('@keel/lifecycle');
const { traceId, traceFormat, traceMeta, flushOnShutdown } = require('@keel/trace-id');
const { timeout, getSignal } = require('@keel/timeout');
const { guardApp, installProcessGuards } = require('@keel/async-guard');
const { notFound, errorHandler } = require('@keel/error-handler');
const { drainOnShutdown } = require('@keel/drain');

const INVENTORY_URL = process.env.INVENTORY_URL ?? 'http://inventory.internal';

// #region lifecycle
// 1. One lifecycle owns the process: SIGTERM and SIGINT, a 30 s budget from the
//    signal to the exit, and the exit code. Create it before any other keel
//    package, so they all use it.
const lifecycle = createLifecycle({ exit: true, shutdownTimeout: '30s' });
setDefaultLifecycle(lifecycle);
// #endregion lifecycle

// #region logger
// 2. The logger stamps the request's trace ID on every line, and is flushed
//    in the shutdown's last phase, so no line is lost at exit.
const logger = winston.createLogger({
  defaultMeta: traceMeta(),
  format: winston.format.combine(winston.format.timestamp(), traceFormat(), winston.format.json()),
  transports: [new winston.transports.Console()],
});
flushOnShutdown(logger);
// #endregion logger

// #region guards
// 3. Faults no handler can catch (a throw in a timer) answer their request with
//    a 500 and shut the process down gracefully, exit code 1.
installProcessGuards({ logger });
// #endregion guards

// #region middleware
// 4. In this order: probes first (no request-level work for the kubelet or the
//    load balancer), then the trace ID (it opens the request context), then
//    the deadline, then your own middleware and routes.
const app = guardApp(express()); // async handlers reach the error handler on Express 4 too
app.use(probes({ lifecycle }));
app.use(traceId());
app.use(timeout('10s'));
app.use(express.json());
// #endregion middleware

// #region routes
// 5. Your routes, unchanged but for two things: errors are thrown, and calls
//    downstream take the request's signal, so the deadline cancels them.
app.get('/orders/:id', async (req, res) => {
  logger.info('loading order', { orderId: req.params.id });
  const response = await fetch(`${INVENTORY_URL}/items/${encodeURIComponent(req.params.id)}`, { signal: getSignal() });
  if (response.status === 404) throw createError(404, 'no such order');
  res.json({ orderId: req.params.id, item: await response.json() });
});
// #endregion routes

// #region errors
// 6. Last: unknown routes, then every error, answered as problem+json (or what
//    the client accepts) with the trace ID, 5xx messages hidden, one log line.
app.use(notFound({ logger }));
app.use(errorHandler({ logger }));
// #endregion errors

// #region listen
// 7. On shutdown: /readyz fails, the listener closes, in-flight requests finish,
//    keep-alive sockets close, then the logger is flushed and the process exits.
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  logger.info('listening', { port: server.address().port });
});
drainOnShutdown(server);
// #endregion listen
