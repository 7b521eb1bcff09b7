// One instance of a keel service behind haproxy (haproxy.cfg). Run two or more;
// restart them one at a time, and no client sees an error.
const express = require('express');
const { createLifecycle, setDefaultLifecycle, probes } = require('@keel/lifecycle');
const { drainOnShutdown } = require('@keel/drain');

// #region app
const lifecycle = createLifecycle({
  exit: true,
  shutdownTimeout: '30s',
  // Keep serving this long after SIGTERM while /readyz answers 503: longer than
  // haproxy needs to mark the server down (fall x inter = 2 x 1 s, plus up to
  // one interval before the first failing check).
  preStopDelay: process.env.PRE_STOP_DELAY ?? '5s',
});
setDefaultLifecycle(lifecycle);

const app = express();

// haproxy's health check asks /readyz (see haproxy.cfg).
app.use(probes({ lifecycle }));

app.get('/', async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 10)); // stands in for real work
  res.json({ instance: process.env.INSTANCE ?? String(process.pid) });
});

const server = app.listen(Number(process.env.PORT ?? 3000));
drainOnShutdown(server, { lifecycle });
// #endregion app
