/**
 * One program per package, run inside the scratch app: it mounts the packed
 * package on a real Express app, sends a real request over a socket, checks
 * the answer and prints `ok` last.
 */

/** Starts `app` on 127.0.0.1, runs `body(url)`, closes the server. */
const harness = `
const express = require('express');
async function withServer(app, body) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    await body('http://127.0.0.1:' + server.address().port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
function expectEqual(actual, expected, what) {
  if (actual !== expected) { console.error(what + ': expected ' + JSON.stringify(expected) + ', got ' + JSON.stringify(actual)); process.exit(1); }
}
`;

/** The request check of each package, keyed by its folder name. */
export const requestChecks: Record<string, string> = {
  'error-handler': `${harness}
const { notFound, errorHandler } = require('@keel/error-handler');
const logged = [];
const logger = { error: (message, fields) => logged.push(fields), warn: () => {}, info: () => {} };
const app = express();
app.get('/boom', () => { throw new Error('secret internals'); });
app.use(notFound());
app.use(errorHandler({ logger, env: 'production' }));
withServer(app, async (url) => {
  const boom = await fetch(url + '/boom');
  expectEqual(boom.status, 500, 'status');
  expectEqual(boom.headers.get('content-type').split(';')[0], 'application/problem+json', 'content type');
  const text = await boom.text();
  expectEqual(text.includes('secret'), false, 'message hidden');
  expectEqual(logged.length, 1, 'one log line');
  expectEqual((await fetch(url + '/nowhere')).status, 404, 'not found');
  console.log('ok');
});
`,
  lifecycle: `${harness}
const { createLifecycle, probes, requestContext, getContext } = require('@keel/lifecycle');
const lifecycle = createLifecycle({ signals: [] });
const app = express();
app.use(probes({ lifecycle }));
app.use(requestContext());
app.get('/', async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  res.json({ same: getContext().req === req });
});
withServer(app, async (url) => {
  expectEqual((await fetch(url + '/readyz')).status, 503, 'not ready before markReady');
  lifecycle.markReady();
  expectEqual((await fetch(url + '/readyz')).status, 200, 'ready');
  const body = await (await fetch(url + '/')).json();
  expectEqual(body.same, true, 'context after await');
  console.log('ok');
});
`,
  'async-guard': `${harness}
// Express 4 is where an async rejection never reaches next() on its own.
const express4 = require('express4');
const { guardApp, guard } = require('@keel/async-guard');
const app = guardApp(express4());
app.get('/reject', async () => { throw new Error('async failure'); });
app.get('/one', guard(async () => { throw 'a string'; }));
app.use((err, req, res, next) => res.status(500).json({ message: err.message, isError: err instanceof Error }));
withServer(app, async (url) => {
  const rejected = await (await fetch(url + '/reject')).json();
  expectEqual(rejected.message, 'async failure', 'rejection reaches the error handler');
  const thrown = await (await fetch(url + '/one')).json();
  expectEqual(thrown.isError, true, 'a thrown string becomes an Error');
  console.log('ok');
});
`,
  timeout: `${harness}
const { timeout, getSignal } = require('@keel/timeout');
const app = express();
app.use(timeout({ duration: 50 }));
app.get('/hang', (req, res) => { getSignal().addEventListener('abort', () => {}); });
app.use((err, req, res, next) => res.status(err.status).set(err.headers).json({ code: err.code }));
withServer(app, async (url) => {
  const response = await fetch(url + '/hang');
  expectEqual(response.status, 503, 'deadline status');
  expectEqual(response.headers.get('retry-after'), '1', 'Retry-After');
  expectEqual((await response.json()).code, 'ERR_KEEL_DEADLINE_EXCEEDED', 'code');
  console.log('ok');
});
`,
  'trace-id': `${harness}
const { traceId, getTraceId, getRequestId } = require('@keel/trace-id');
const app = express();
app.use(traceId());
app.get('/', async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  res.json({ traceId: getTraceId(), requestId: getRequestId() ?? null });
});
withServer(app, async (url) => {
  // The test client is on loopback, which the default trusts.
  const echoed = await fetch(url + '/', { headers: { 'x-request-id': 'abc-123' } });
  expectEqual(echoed.headers.get('x-request-id'), 'abc-123', 'echoed ID');
  const body = await echoed.json();
  expectEqual(body.requestId, 'abc-123', 'request ID in context');
  expectEqual(/^[0-9a-f]{32}$/.test(body.traceId), true, 'W3C trace ID in context');
  const hostile = await fetch(url + '/', { headers: { 'x-request-id': '<script>' } });
  expectEqual(/^[0-9a-f]{32}$/.test(hostile.headers.get('x-request-id')), true, 'hostile ID replaced');
  console.log('ok');
});
`,
  metrics: `${harness}
const { metrics, metricsEndpoint } = require('@keel/metrics');
const { Registry } = require('prom-client');
const registry = new Registry();
const app = express();
app.use(metrics({ registry }));
app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
app.get('/metrics', metricsEndpoint({ registry }));
withServer(app, async (url) => {
  expectEqual((await fetch(url + '/users/7')).status, 200, 'route status');
  const text = await (await fetch(url + '/metrics')).text();
  expectEqual(/^http_request_duration_seconds_count\\{method="GET",route="\\/users\\/:id",status_code="200"\\} 1$/m.test(text), true, 'histogram by route pattern');
  console.log('ok');
});
`,
  drain: `
const express = require('express');
const { createLifecycle } = require('@keel/lifecycle');
const { drainOnShutdown } = require('@keel/drain');
// A request in flight when shutdown starts completes; then the server is closed.
const lifecycle = createLifecycle({ signals: [], shutdownTimeout: 3000, preStopDelay: 0 });
const app = express();
app.get('/slow', (req, res) => setTimeout(() => res.json({ done: true }), 200));
const server = app.listen(0, '127.0.0.1', async () => {
  drainOnShutdown(server, { lifecycle });
  const inFlight = fetch('http://127.0.0.1:' + server.address().port + '/slow').then((response) => response.json());
  await new Promise((resolve) => setTimeout(resolve, 50));
  const report = await lifecycle.shutdown('check');
  const body = await inFlight;
  if (!body.done || report.exitCode !== 0 || server.listening) { console.error('drain failed', body, report.exitCode); process.exit(1); }
  console.log('ok');
});
`,
  chaos: `${harness}
const { chaos } = require('@keel/chaos');
// Inert unless enabled; enabled, the trigger header names the fault and the response names it back.
const app = express();
app.use(chaos({ enabled: true, rules: [{ fault: 'error', status: 503 }] }));
app.get('/', (req, res) => res.send('ok'));
app.use((err, req, res, next) => res.status(err.status).send(err.code));
withServer(app, async (url) => {
  expectEqual((await fetch(url + '/')).status, 200, 'no trigger');
  const faulted = await fetch(url + '/', { headers: { 'x-keel-chaos': 'error' } });
  expectEqual(faulted.status, 503, 'injected status');
  expectEqual(faulted.headers.get('x-keel-chaos-injected'), 'error', 'injected header');
  expectEqual(await faulted.text(), 'ERR_KEEL_CHAOS_FAULT', 'error code');
  console.log('ok');
});
`,
  drill: `${harness}
const { createClient } = require('@keel/drill');
// keel-drill's clients: a request answered in full, whose body names its ID, is completed.
const app = express();
app.get('/work', (req, res) => res.send('done ' + req.query.id));
app.get('/stale', (req, res) => res.send('done 9-9'));
withServer(app, async (url) => {
  const port = Number(new URL(url).port);
  for (const kind of ['agent', 'undici']) {
    const client = createClient(kind, { port, connections: 2, requestTimeoutMs: 2000 });
    expectEqual((await client.send('/work?id=7-1', '7-1')).outcome, 'completed', kind + ' completed');
    expectEqual((await client.send('/stale?id=7-2', '7-2')).outcome, 'lost', kind + ' a body for another request');
    await client.close();
  }
  console.log('ok');
});
`,
  outbound: `${harness}
const http = require('node:http');
const { outbound, fetch } = require('@keel/outbound');
// A dependency that fails its first request with a 503: the call through outbound() retries it.
let seen = 0;
const dependency = http.createServer((req, res) => { seen++; res.statusCode = seen === 1 ? 503 : 200; res.end(String(seen)); });
dependency.listen(0, '127.0.0.1', () => {
  const base = 'http://127.0.0.1:' + dependency.address().port;
  const dispatcher = outbound({ baseDelay: 5 });
  const app = express();
  app.get('/', async (req, res, next) => {
    try { res.send(await (await fetch(base + '/', { dispatcher })).text()); } catch (error) { next(error); }
  });
  withServer(app, async (url) => {
    const response = await globalThis.fetch(url + '/');
    expectEqual(response.status, 200, 'status');
    expectEqual(await response.text(), '2', 'answered by the retry');
    await dispatcher.close();
    dependency.close();
    console.log('ok');
  });
});
`,
};
