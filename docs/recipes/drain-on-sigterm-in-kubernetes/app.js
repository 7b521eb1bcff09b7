// A keel service as Kubernetes runs it: probes for the kubelet, a drain on
// SIGTERM, and a shutdown budget read from the Deployment (deployment.yaml), so
// the pod's grace period and the process's budget are set side by side.
const express = require('express');
const { createLifecycle, setDefaultLifecycle, probes } = require('@keel/lifecycle');
const { drainOnShutdown } = require('@keel/drain');

// #region lifecycle
// One lifecycle owns the process: SIGTERM starts the shutdown, the budget bounds
// it, and the exit code says whether it was clean (0) or not (1).
const lifecycle = createLifecycle({
  exit: true,
  shutdownTimeout: process.env.SHUTDOWN_TIMEOUT ?? '25s',
  // The pod's preStop hook already waits for the endpoints to update; with no
  // preStop hook, leave this unset: 'auto' waits 5 s in Kubernetes.
  preStopDelay: process.env.PRE_STOP_DELAY ?? 'auto',
});
// Every other keel package uses this lifecycle instead of creating its own.
setDefaultLifecycle(lifecycle);
// #endregion lifecycle

// #region app
const app = express();

// /livez, /readyz and /startupz for the kubelet, before any other middleware.
// Their bodies say only {"status":"ok"} or {"status":"unavailable"}: they share
// the public port, so they must not describe the service to the internet.
app.use(probes({ lifecycle }));

app.get('/report', async (req, res) => {
  // Stands in for real work that takes a while: a shutdown lets it finish.
  await new Promise((resolve) => setTimeout(resolve, Number(req.query.ms ?? 200)));
  res.json({ done: true });
});

const server = app.listen(Number(process.env.PORT ?? 3000));

// On SIGTERM: /readyz fails at once, then the listener closes, in-flight requests
// finish, keep-alive sockets close, and the process exits within the budget.
// Marks the lifecycle ready once the server listens (so /startupz passes).
drainOnShutdown(server, { lifecycle });
// #endregion app
