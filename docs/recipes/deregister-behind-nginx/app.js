// One instance of a keel service behind nginx (nginx.conf). Run two or more;
// restart them one at a time, and no client sees an error.
const express = require('express');
const { createLifecycle, setDefaultLifecycle, probes } = require('@keel/lifecycle');
const { drainOnShutdown } = require('@keel/drain');

// #region app
const lifecycle = createLifecycle({
  exit: true,
  shutdownTimeout: '30s',
  // nginx does not read /readyz, so waiting for it to notice helps nothing here:
  // close the listener at once, and nginx retries refused connections elsewhere.
  // Behind a load balancer that does check /readyz as well, set this above its
  // detection time instead (see the haproxy recipe).
  preStopDelay: 0,
});
setDefaultLifecycle(lifecycle);

const app = express();
app.use(probes({ lifecycle }));

app.get('/', async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 10)); // stands in for real work
  res.json({ instance: process.env.INSTANCE ?? String(process.pid) });
});

const server = app.listen(Number(process.env.PORT ?? 3000));
// In-flight requests finish; kept-alive connections from nginx close after
// their response or once silent; the process exits when they are all done.
drainOnShutdown(server, { lifecycle });
// #endregion app
