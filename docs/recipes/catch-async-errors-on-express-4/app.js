// An Express 4 app with async handlers everywhere: in routes, in a router
// mounted from another file, in a `param` handler and in error middleware.
const express = require('express');
const { asyncGuard, guardApp, installProcessGuards } = require('@keel/async-guard');
const { notFound, errorHandler } = require('@keel/error-handler');
const { drainOnShutdown } = require('@keel/drain');

const db = {
  async findOrder(id) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return id === '1' ? { id: '1', total: 30 } : undefined;
  },
};

// #region router
// A router built elsewhere, before guardApp() runs: it is guarded when mounted.
const orders = express.Router();

// An async param handler: a rejection here reaches the error handler too.
orders.param('orderId', async (req, res, next, id) => {
  req.order = await db.findOrder(id);
  if (!req.order) throw Object.assign(new Error(`no order ${id}`), { status: 404, expose: true });
  next();
});

orders.get('/:orderId', async (req, res) => {
  res.json(req.order);
});
// #endregion router

// #region app
// Timers and un-awaited promises: answer the request they belong to with a 500.
// A timer's throw then drains and exits 1 (the process state is suspect); an
// unhandled rejection leaves the process serving.
installProcessGuards();

// Every handler of the app, before and after this line, mounted routers included.
// No express/lib/* is patched, so the same line works on Express 5.
const app = guardApp(express());
// Opens the request context, so a timer's throw is traced back to its request.
// Not needed when traceId() or timeout() is mounted first: they open the same one.
app.use(asyncGuard());

app.use('/orders', orders);

app.get('/boom', async () => {
  throw new Error('rejected in an async handler');
});

app.get('/nothing', async () => {
  // A falsy rejection would fall through to the next handler on Express 4;
  // here it becomes an Error with the value as its cause.
  return Promise.reject(undefined);
});

app.get('/timer', () => {
  setTimeout(() => {
    throw new Error('a bug in a timer'); // no handler can catch this one
  }, 5);
});

// Async error middleware keeps its four arguments, so Express 4 still treats it as one.
app.use(async (err, _req, _res, next) => {
  await new Promise((resolve) => setTimeout(resolve, 1)); // e.g. report to an error tracker
  next(err);
});

app.use(notFound());
app.use(errorHandler());

const server = app.listen(Number(process.env.PORT ?? 3000));
// Lets in-flight requests finish before the exit a timer's throw leads to.
drainOnShutdown(server);
// #endregion app
