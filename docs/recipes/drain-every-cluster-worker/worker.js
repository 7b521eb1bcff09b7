// One worker of cluster.js: a keel service on the port the workers share.
const express = require('express');
const { createLifecycle, setDefaultLifecycle, probes } = require('@keel/lifecycle');
const { traceId } = require('@keel/trace-id');
const { guardApp } = require('@keel/async-guard');
const { notFound, errorHandler } = require('@keel/error-handler');
const { drainOnShutdown } = require('@keel/drain');

// #region worker
// The primary owns the signals. A worker may get one too (Ctrl-C signals the
// whole process group), on top of the primary's message: so the worker's
// lifecycle listens to none itself, and every request for a shutdown, by
// message or by signal, starts the same one shutdown instead of forcing an exit.
const lifecycle = createLifecycle({ exit: true, shutdownTimeout: '20s', signals: [] });
setDefaultLifecycle(lifecycle);

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => void lifecycle.shutdown(signal));
process.on('message', (message) => {
  if (message === 'shutdown') void lifecycle.shutdown('asked by the primary');
});
// Without a primary nobody forwards signals or replaces workers: stop too.
process.on('disconnect', () => void lifecycle.shutdown('the primary is gone'));

const app = guardApp(express());
app.use(probes({ lifecycle }));
app.use(traceId());

app.get('/work', async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, Number(req.query.ms ?? 50))); // real work here
  res.json({ pid: process.pid });
});

app.use(notFound());
app.use(errorHandler());

// Workers share the port: the primary hands each new connection to one of them.
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  lifecycle.logger.info('worker listening', { pid: process.pid });
});
// This worker stops taking connections, finishes its requests, exits 0.
drainOnShutdown(server, { lifecycle });
// #endregion worker
