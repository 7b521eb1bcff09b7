// A service that calls another one (users) through a dispatcher that retries
// safely, never past the request's deadline, and stops calling it while it is down.
const express = require('express');
const { guardApp } = require('@keel/async-guard');
const { timeout } = require('@keel/timeout');
const { notFound, errorHandler } = require('@keel/error-handler');
const { outbound, fetch } = require('@keel/outbound');

const USERS_URL = process.env.USERS_URL ?? 'http://users.internal';

// #region app
// guardApp(): rejected async handlers reach the error handler on Express 4 too.
const app = guardApp(express());

// Every request gets 1 s; calls made for it end before that, less 50 ms to answer.
app.use(timeout('1s'));

// One dispatcher for the process: the retry budget and the circuit are per origin,
// and they only work when every request shares them.
const users = outbound({ headersTimeout: '500ms' });

app.get('/users/:id', async (req, res) => {
  // A 503 or a reset is retried (GET is safe to repeat), with backoff, within the
  // time left. A hang ends in a 504; a users service that is down, in fast 503s.
  const response = await fetch(`${USERS_URL}/users/${encodeURIComponent(req.params.id)}`, { dispatcher: users });
  if (!response.ok) {
    // Never pass the dependency's status or body on to the client.
    res.status(502).json({ error: 'the users service could not answer' });
    return;
  }
  res.json(await response.json());
});

app.use(notFound());
// 504 for a dependency out of time, 503 with Retry-After for an open circuit.
app.use(errorHandler());
// #endregion app

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(JSON.stringify({ message: 'listening', port: server.address().port }));
});
