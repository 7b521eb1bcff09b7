// An orders service with the keel stack, ready to be drilled: it listens on
// PORT, says it is ready on /readyz, drains on SIGTERM, and carries @keel/chaos,
// off unless CHAOS_SECRET is set (then only requests carrying it get faults).
const express = require('express');
const { createLifecycle, setDefaultLifecycle, probes } = require('@keel/lifecycle');
const { traceId } = require('@keel/trace-id');
const { timeout, getSignal } = require('@keel/timeout');
const { guardApp, installProcessGuards } = require('@keel/async-guard');
const { notFound, errorHandler } = require('@keel/error-handler');
const { drainOnShutdown } = require('@keel/drain');
const { chaos } = require('@keel/chaos');

const lifecycle = createLifecycle({ exit: true, shutdownTimeout: '20s', preStopDelay: Number(process.env.PRE_STOP_MS ?? 0) });
setDefaultLifecycle(lifecycle);
installProcessGuards();

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => reject(clearTimeout(timer) ?? signal.reason), { once: true });
  });

// #region app
const app = guardApp(express());
app.use(probes());
app.use(traceId());
app.use(timeout('5s'));
// Faults on demand: inert unless enabled; in production it also needs
// allowInProduction and a secret that every trigger header must carry.
app.use(
  chaos({
    enabled: Boolean(process.env.CHAOS_SECRET),
    allowInProduction: true,
    secret: process.env.CHAOS_SECRET || undefined,
    rules: [
      { fault: 'latency', path: '/orders/:id', delay: 100, jitter: 200, probability: 0.01 },
      { fault: 'error', path: '/orders/:id', status: 503 },
    ],
  }),
);

app.get('/orders/:id', (req, res) => {
  res.json({ id: req.params.id, status: 'shipped' });
});
app.get('/report', async (req, res) => {
  // A slow request: the drill asks for 300-800 ms with ?ms=.
  await sleep(Math.min(Number(req.query.ms) || 500, 3000), getSignal());
  res.json({ report: 'ready', tookMs: Number(req.query.ms) });
});

app.use(notFound());
app.use(errorHandler());

drainOnShutdown(app.listen(Number(process.env.PORT ?? 3000)));
// #endregion app
