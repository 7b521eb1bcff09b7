// Errors thrown with http-errors (or anything else) become RFC 9457
// problem+json responses that show what a client may see and nothing more.
const express = require('express');
const createError = require('http-errors');
const { traceId } = require('@keel/trace-id');
const { guardApp } = require('@keel/async-guard');
const { notFound, errorHandler } = require('@keel/error-handler');

const orders = new Map([['1', { id: '1', total: 30 }]]);

// #region app
// guardApp(): rejected async handlers reach the error handler on Express 4 too.
const app = guardApp(express());
app.use(traceId());
app.use(express.json());

app.get('/orders/:id', async (req, res) => {
  const order = orders.get(req.params.id);
  // A 4xx from http-errors is exposed: its message is the problem's `detail`.
  if (!order) throw createError(404, `Order ${req.params.id} does not exist`);
  res.json(order);
});

app.post('/orders', async (req, res) => {
  if (typeof req.body?.total !== 'number') {
    // A `code` of your own is sent when the error is exposed; clients match on it.
    throw createError(422, 'total must be a number', { code: 'ORDER_TOTAL_INVALID' });
  }
  const order = { id: String(orders.size + 1), total: req.body.total };
  orders.set(order.id, order);
  res.status(201).json(order);
});

app.get('/reports/daily', async () => {
  // A 5xx hides its message: the client sees "Internal Server Error", the log
  // line has the real message, the stack and the trace ID.
  throw new Error('connect ECONNREFUSED 10.0.0.5:5432');
});

app.get('/maintenance', async () => {
  // http-errors' `headers` are sent (Retry-After here). The message of a 5xx
  // never is, even with `expose: true`: the client reads "Service Unavailable".
  throw createError(503, 'Database failover in progress', { headers: { 'Retry-After': '120' } });
});

// Unknown routes: a 404 in the same format.
app.use(notFound());
// Last: `type` becomes https://example.com/problems/<code in kebab case>.
app.use(errorHandler({ typeBaseUrl: 'https://example.com/problems/' }));
// #endregion app

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(JSON.stringify({ message: 'listening', port: server.address().port }));
});
