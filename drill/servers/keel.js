'use strict';
// keel as its recipes mount it: traceId(), timeout(), the routes, notFound(),
// errorHandler(), probes, the process guards, and drainOnShutdown() on the
// default lifecycle, which owns SIGTERM and the exit code.
//   PRE_STOP_MS   deregistration delay: 0 alone, longer than the load balancer's health check behind one
//   BUDGET_MS     the shutdown budget (default 30000, Kubernetes' grace period)

const http = require('node:http');
const { createLifecycle, setDefaultLifecycle, probes } = require('@keel/lifecycle');
const { traceId } = require('@keel/trace-id');
const { timeout } = require('@keel/timeout');
const { installProcessGuards } = require('@keel/async-guard');
const { errorHandler, notFound } = require('@keel/error-handler');
const { drainOnShutdown } = require('@keel/drain');
const { loadExpress, mountWork, listen } = require('./_app');

const lifecycle = createLifecycle({
  exit: true,
  preStopDelay: Number(process.env.PRE_STOP_MS || 0),
  shutdownTimeout: Number(process.env.BUDGET_MS || 30000),
});
setDefaultLifecycle(lifecycle);
installProcessGuards();

const app = loadExpress()();
app.use(probes());
app.use(traceId());
app.use(timeout({ duration: '10s' }));
mountWork(app);
app.use(notFound());
app.use(errorHandler());

const server = http.createServer(app);
drainOnShutdown(server);
listen(server, 'keel');
