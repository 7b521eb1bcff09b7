// A service that publishes Prometheus metrics on their own port, and keeps
// answering scrapes through its drain so the last scrape sees the shutdown.
const express = require('express');
const { createLifecycle, probes } = require('@keel/lifecycle');
const { timeout, getSignal } = require('@keel/timeout');
const { notFound, errorHandler } = require('@keel/error-handler');
const { drainOnShutdown } = require('@keel/drain');
const { metrics, serveMetrics } = require('@keel/metrics');

const PORT = Number(process.env.PORT ?? 3000);
const METRICS_PORT = Number(process.env.METRICS_PORT ?? 9464);
const print = (fields) => process.stdout.write(`${JSON.stringify(fields)}\n`);

// #region app
const lifecycle = createLifecycle({ shutdownTimeout: '10s', preStopDelay: process.env.PRE_STOP_DELAY ?? '5s' });

const app = express();
app.use(probes({ lifecycle })); // the kubelet's checks are not traffic: mount metrics after them
app.use(metrics({ lifecycle })); // every request below: duration by method, route pattern, status
app.use(timeout({ duration: '2s', lifecycle }));

app.get('/orders/:id', (req, res) => res.json({ id: req.params.id }));
app.get('/slow', async (req, res) => {
  const ms = Math.min(Number(req.query.ms) || 200, 5_000);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    getSignal().addEventListener('abort', () => reject(getSignal().reason, clearTimeout(timer)), { once: true });
  });
  res.json({ waitedMs: ms });
});
app.use(notFound());
app.use(errorHandler());

const server = app.listen(PORT, () => print({ message: 'listening', port: server.address().port }));
drainOnShutdown(server, { lifecycle });

// Its own port: not exposed with the app, and still answering while /readyz says 503.
// 0.0.0.0 lets the Prometheus of the cluster reach it; keep the port off the Service.
const metricsServer = serveMetrics({
  port: METRICS_PORT,
  host: process.env.METRICS_HOST ?? '0.0.0.0',
  lifecycle,
  finalScrapeTimeout: '5s', // at shutdown, wait (at most 5 s) for the scrape that sees the drain
});
// #endregion app
metricsServer.ready.then((url) => print({ message: 'metrics', url }));
