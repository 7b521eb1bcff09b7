'use strict';
const { loadExpress, mountRoutes, requireKeel } = require('./_shared');
module.exports = { build() {
  const parts = new Set((process.env.KEEL_EXP || '').split(','));
  const lifecycle = requireKeel('lifecycle');
  const { traceId } = requireKeel('trace-id');
  const { timeout } = requireKeel('timeout');
  const { guardApp, installProcessGuards } = requireKeel('async-guard');
  const { errorHandler, notFound } = requireKeel('error-handler');
  const { drainOnShutdown } = requireKeel('drain');
  if (parts.has('pg')) installProcessGuards();
  let app = loadExpress(5)();
  if (parts.has('guard')) app = guardApp(app);
  if (parts.has('probes')) app.use(lifecycle.probes());
  if (parts.has('ctx')) app.use(lifecycle.requestContext());
  if (parts.has('trace')) app.use(traceId());
  if (parts.has('timeout')) app.use(timeout({ duration: '10s' }));
  mountRoutes(app);
  if (parts.has('eh')) { app.use(notFound()); app.use(errorHandler()); }
  return { app, attach(server) { if (parts.has('drain')) drainOnShutdown(server); lifecycle.getDefaultLifecycle().markReady(); } };
} };
