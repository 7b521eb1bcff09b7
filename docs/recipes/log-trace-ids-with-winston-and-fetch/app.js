// A service whose every log line, error line and outbound call carries the
// request's trace ID, with winston and Node's fetch.
const express = require('express');
const winston = require('winston');
const { traceId, getTraceId, traceFormat, traceMeta, flushOnShutdown } = require('@keel/trace-id');
const { guardApp } = require('@keel/async-guard');
const { notFound, errorHandler } = require('@keel/error-handler');

const STOCK_URL = process.env.STOCK_URL ?? 'http://stock.internal';

// #region logger
const logger = winston.createLogger({
  // traceMeta() captures the request when a line is logged; traceFormat() writes
  // traceId and spanId. Both: a slow transport formats buffered lines later,
  // from another request's callback, and would otherwise stamp that one's ID.
  defaultMeta: traceMeta({ service: 'orders' }),
  format: winston.format.combine(winston.format.timestamp(), traceFormat(), winston.format.json()),
  transports: [new winston.transports.Console()],
});

// On SIGTERM, end the logger in the lifecycle's last phase so no line is lost at exit.
flushOnShutdown(logger);
// #endregion logger

// #region app
// guardApp(): rejected async handlers reach the error handler on Express 4 too.
const app = guardApp(express());

// First: it opens the request context every keel package and the logger read.
app.use(traceId());

app.get('/orders/:id', async (req, res) => {
  logger.info('loading order', { orderId: req.params.id });
  // No wrapper and no headers to pass: fetch calls made while handling the
  // request carry traceparent and X-Request-ID.
  const response = await fetch(`${STOCK_URL}/stock/${encodeURIComponent(req.params.id)}`);
  const stock = await response.json();
  logger.info('stock loaded', { orderId: req.params.id, available: stock.available });
  res.json({ orderId: req.params.id, available: stock.available, traceId: getTraceId() });
});

app.use(notFound({ logger }));
// Error lines go to the same logger and carry the same traceId; so does the error body.
app.use(errorHandler({ logger }));
// #endregion app

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  logger.info('listening', { port: server.address().port });
});
