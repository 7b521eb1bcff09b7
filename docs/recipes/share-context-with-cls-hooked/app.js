// An app whose older modules read a cls-hooked namespace, sharing keel's
// request context with them instead of keeping a second one by hand.
const express = require('express');
const { createNamespace } = require('cls-hooked');
const { useClsHooked, getContext } = require('@keel/lifecycle');
const { traceId } = require('@keel/trace-id');
const { guardApp } = require('@keel/async-guard');
const { notFound, errorHandler } = require('@keel/error-handler');
const { audit } = require('./audit');

// #region app
// Create the namespace before any module calls getNamespace('app'), and bridge
// it before the first request: every request context is then also entered in it.
const namespace = createNamespace('app');
useClsHooked(namespace);

const app = guardApp(express());
app.use(traceId()); // opens the context, so the namespace has one per request too
app.use(express.json());

// Values set on the namespace during a request stay visible for that request.
app.use((req, res, next) => {
  namespace.set('userId', req.get('x-user-id') ?? 'anonymous');
  next();
});

app.post('/orders', async (req, res) => {
  const entry = await audit(`create order of ${req.body.total}`);
  // getContext() and the namespace hold the very same object.
  res.status(201).json({ ...entry, same: namespace.get('keel') === getContext() });
});

app.use(notFound());
app.use(errorHandler());
// #endregion app

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(JSON.stringify({ message: 'listening', port: server.address().port }));
});
