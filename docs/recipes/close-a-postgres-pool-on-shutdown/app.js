// A keel service with a PostgreSQL pool (node-postgres): the pool closes after
// the last request is served, and a query stops in the database, not only in
// the app, when its request runs out of time.
const express = require('express');
const { Client, Pool } = require('pg');
const { getDefaultLifecycle, probes } = require('@keel/lifecycle');
const { timeout, getSignal } = require('@keel/timeout');
const { guardApp } = require('@keel/async-guard');
const { notFound, errorHandler } = require('@keel/error-handler');
const { drainOnShutdown } = require('@keel/drain');

// The process-wide lifecycle every keel package uses: SIGTERM starts its shutdown.
const lifecycle = getDefaultLifecycle();

// #region pool
const config = { connectionString: process.env.DATABASE_URL, application_name: 'orders' };
const pool = new Pool({ ...config, max: 10 });

// An idle client whose connection drops (a database restart, a failover) is
// reported here; without a listener the error would crash the process.
pool.on('error', (error) => lifecycle.logger.error('idle database client failed', { error }));

// Cleanup runs after the drain phase: no request still needs the pool by then.
lifecycle.onShutdown('close-db', () => pool.end(), { phase: 'cleanup', timeout: '5s' });
// #endregion pool

// #region query
/**
 * Runs a query that PostgreSQL itself cancels when the request's signal aborts:
 * at the deadline, when the client goes away, or at the end of the drain.
 */
async function query(text, values, signal = getSignal()) {
  signal?.throwIfAborted();
  const client = await pool.connect();
  const cancel = async () => {
    // The busy connection cannot take another statement: cancel from a new one.
    const canceller = new Client(config);
    try {
      await canceller.connect();
      await canceller.query('SELECT pg_cancel_backend($1)', [client.processID]);
    } catch (error) {
      lifecycle.logger.warn('could not cancel a query', { error });
    } finally {
      await canceller.end().catch(() => {});
    }
  };
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await client.query(text, values);
  } catch (error) {
    // "canceling statement due to user request" is our own cancel: report why.
    throw signal?.aborted ? signal.reason : error;
  } finally {
    signal?.removeEventListener('abort', cancel);
    client.release();
  }
}
// #endregion query

// #region app
// guardApp(): rejected async handlers reach the error handler on Express 4 too.
const app = guardApp(express());
app.use(probes({ lifecycle }));
app.use(timeout('5s'));

app.get('/orders/count', async (req, res) => {
  const { rows } = await query('SELECT count(*)::int AS count FROM generate_series(1, 42)');
  res.json(rows[0]);
});

// A slow report gets less time than the rest: at 1 s the client gets a 503 and
// PostgreSQL stops the statement.
app.get('/report', timeout('1s'), async (req, res) => {
  const { rows } = await query('SELECT pg_sleep($1::float) AS slept, now() AS at', [Number(req.query.seconds ?? 0.2)]);
  res.json(rows[0]);
});

app.use(notFound());
app.use(errorHandler());

const server = app.listen(Number(process.env.PORT ?? 3000));
drainOnShutdown(server);
// #endregion app
