// A service that calls a slower one (inventory) and never lets that call
// outlive the request that needed it.
const express = require('express');
const { guardApp } = require('@keel/async-guard');
const { timeout, getSignal, withDeadline } = require('@keel/timeout');
const { notFound, errorHandler } = require('@keel/error-handler');

const INVENTORY_URL = process.env.INVENTORY_URL ?? 'http://inventory.internal';

// #region app
// guardApp(): rejected async handlers reach the error handler on Express 4 too.
const app = guardApp(express());

// One budget per request. Its signal aborts at the deadline, when the client
// goes away, or when the service shuts down: whichever comes first.
app.use(timeout('1s'));

app.get('/stock/:sku', async (req, res) => {
  // The request's signal cancels the downstream call itself: at the deadline
  // the socket to inventory is closed, instead of the call running on unseen.
  const response = await fetch(`${INVENTORY_URL}/items/${encodeURIComponent(req.params.sku)}`, {
    signal: getSignal(),
  });
  res.json(await response.json());
});

app.get('/price/:sku', async (req, res) => {
  // A tighter budget for one call: if inventory is the slow one, the client gets
  // a 504 (a downstream timeout) well before the request's own 503.
  const price = await withDeadline('250ms', async (signal) => {
    const response = await fetch(`${INVENTORY_URL}/prices/${encodeURIComponent(req.params.sku)}`, { signal });
    return response.json();
  });
  res.json(price);
});

app.use(notFound());
// The deadline's 503 (with Retry-After) and the 504 are answered here.
app.use(errorHandler());
// #endregion app

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(JSON.stringify({ message: 'listening', port: server.address().port }));
});
