'use strict';
// http-terminator alone, as its README shows, with its defaults: on SIGTERM,
// terminate() the server, then exit. /readyz answers 200 until the process ends:
// http-terminator has no readiness of its own.

const http = require('node:http');
const { createHttpTerminator } = require('http-terminator');
const { loadExpress, mountWork, listen } = require('./_app');

const app = loadExpress()();
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ok' });
});
mountWork(app);
const server = http.createServer(app);
const terminator = createHttpTerminator({ server });
process.once('SIGTERM', () => {
  terminator.terminate().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
listen(server, 'http-terminator');
