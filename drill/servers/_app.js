'use strict';
// The app every drill server runs, whatever its shutdown: GET /work?id=ID&ms=N
// answers `done ID` and ~2 KB of padding after N ms (0: at once), the shape the
// shutdown-load harness checks. PORT picks the port (0: any free one); the
// server prints {"event":"listening","port":N,"pid":P} once it listens.

const PAD = 'x'.repeat(2048);

function loadExpress() {
  return process.env.EXPRESS_MAJOR === '4' ? require('express4') : require('express');
}

function mountWork(app) {
  app.get('/work', (req, res) => {
    const id = String(req.query.id);
    const ms = Number(req.query.ms || 0);
    const answer = () => res.type('text/plain').send(`done ${id} ${PAD}`);
    if (ms > 0) setTimeout(answer, ms);
    else answer();
  });
  return app;
}

function print(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, time: Date.now(), ...fields })}\n`);
}

function listen(server, kind) {
  server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => print('listening', { port: server.address().port, pid: process.pid, kind }));
  return server;
}

module.exports = { loadExpress, mountWork, print, listen };
