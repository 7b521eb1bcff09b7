'use strict';
// No shutdown handling at all: Node's default, SIGTERM ends the process at once.
// /readyz answers 200 until then, as a static health route would.

const http = require('node:http');
const { loadExpress, mountWork, listen } = require('./_app');

const app = loadExpress()();
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ok' });
});
mountWork(app);
listen(http.createServer(app), 'naive');
