// An orders service whose winston lines carry the trace ID and span ID that
// OpenTelemetry exports: search the logs by the trace ID a tracing UI shows.
// #region app
require('./tracing'); // first, before express and http are loaded

const express = require('express');
const winston = require('winston');
const { traceId, getTraceId, traceFormat, traceMeta } = require('@keel/trace-id');

const STOCK_URL = process.env.STOCK_URL ?? 'http://stock.internal';

const logger = winston.createLogger({
  defaultMeta: traceMeta({ service: 'orders' }),
  format: winston.format.combine(traceFormat(), winston.format.json()),
  transports: [new winston.transports.Console()],
});

const app = express();
// Adopts the trace ID and span ID of OpenTelemetry's server span for the request.
app.use(traceId());

app.get('/orders/:id', async (req, res, next) => {
  try {
    logger.info('loading order', { orderId: req.params.id });
    // One traceparent: OpenTelemetry's, naming its client span; keel adds X-Request-ID.
    const stock = await (await fetch(`${STOCK_URL}/stock/${encodeURIComponent(req.params.id)}`)).json();
    logger.info('stock loaded', { orderId: req.params.id, available: stock.available });
    res.json({ orderId: req.params.id, available: stock.available, traceId: getTraceId() });
  } catch (error) {
    next(error);
  }
});
// #endregion app

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  logger.info('listening', { port: server.address().port });
});
