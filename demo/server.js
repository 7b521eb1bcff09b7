// The keel demo: an Express service with every keel package mounted in the
// documented order. `npm start` runs it on 127.0.0.1:3000 (PORT and HOST change that).
const express = require('express');
const winston = require('winston');
const { createLifecycle, createJsonLogger, setDefaultLifecycle, probes } = require('@keel/lifecycle');
const { traceId, traceFormat, flushOnShutdown } = require('@keel/trace-id');
const { timeout, getSignal, withDeadline } = require('@keel/timeout');
const { guardApp, installProcessGuards } = require('@keel/async-guard');
const { notFound, errorHandler } = require('@keel/error-handler');
const { drainOnShutdown } = require('@keel/drain');
const { metrics, serveMetrics } = require('@keel/metrics');

const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
const metricsPort = Number(process.env.METRICS_PORT ?? 9464);

// One JSON line per event; traceFormat stamps the request's trace ID on every line.
const logger = winston.createLogger({
  level: 'info',
  format: winston.format.combine(traceFormat(), winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Console()],
});

// The process's lifecycle: Ctrl-C or SIGTERM starts the drain; the whole shutdown fits in 10 s.
// It logs through its own JSON logger, so its last line (the shutdown report) is
// written after the winston logger has been flushed and ended.
const lifecycle = createLifecycle({ shutdownTimeout: '10s', preStopDelay: '500ms', exit: true, logger: createJsonLogger() });
setDefaultLifecycle(lifecycle);
flushOnShutdown(logger, { lifecycle });
installProcessGuards({ lifecycle, logger });

const app = express();
guardApp(app); // async handlers reach the error handler on Express 4 too
app.use(probes({ lifecycle }));
app.use(metrics({ lifecycle })); // after the probes: the kubelet's checks are not traffic
app.use(traceId());
app.use(timeout({ duration: '2s', lifecycle, logger }));

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
});

const routes = [
  ['GET /', 'this list'],
  ['GET /fast', 'answers at once'],
  ['GET /slow?ms=1500', 'answers after ms milliseconds (cancelled on deadline or shutdown)'],
  ['GET /throw', 'throws: a 500 problem+json with the trace ID, no internals'],
  ['GET /reject', 'an async handler rejects: the same 500, on Express 4 and 5'],
  ['GET /deadline', 'runs past its 2 s deadline: a 503 with Retry-After'],
  ['GET /downstream', 'a downstream call with a 100 ms deadline of its own: a 504'],
  ['GET /livez /readyz /startupz', 'the probes'],
];

app.get('/', (req, res) => res.json({ service: 'keel demo', routes: Object.fromEntries(routes) }));
app.get('/fast', (req, res) => res.json({ ok: true }));
app.get('/slow', async (req, res) => {
  const ms = Math.min(Number(req.query.ms) || 1500, 60_000);
  await sleep(ms, getSignal());
  res.json({ ok: true, waitedMs: ms });
});
app.get('/throw', () => {
  throw new Error('database password is hunter2 (never shown to clients)');
});
app.get('/reject', async () => {
  await sleep(10, getSignal());
  throw new Error('an async failure with internals in its message');
});
app.get('/deadline', async (req, res) => {
  await sleep(60_000, getSignal());
  res.json({ never: 'sent' });
});
app.get('/downstream', async (req, res) => {
  await withDeadline(100, (signal) => sleep(1000, signal));
  res.json({ never: 'sent' });
});
app.use(notFound());
app.use(errorHandler({ logger }));

const server = app.listen(port, host, () => {
  const base = `http://${host}:${server.address().port}`;
  logger.info('keel demo listening', { url: base, pid: process.pid });
  console.log(`\nkeel demo on ${base}\n`);
  for (const [route, what] of routes) console.log(`  ${route.padEnd(28)} ${what}`);
  console.log(`\ntry: curl -i ${base}/throw; curl -i ${base}/deadline; curl ${base}/slow & kill -INT ${process.pid}`);
  console.log('Ctrl-C drains: readiness fails, in-flight requests finish, hooks run, then exit 0.\n');
});
drainOnShutdown(server, { lifecycle });

// Metrics on their own port, never on the app's: answered through the drain, closed last,
// after one more scrape (at most 1 s) so the scraper sees the shutdown.
const metricsServer = serveMetrics({ port: metricsPort, host, lifecycle, finalScrapeTimeout: '1s' });
metricsServer.ready.then((url) => {
  logger.info('keel demo metrics', { url });
  console.log(`scrape metrics at ${url}\n`);
});
