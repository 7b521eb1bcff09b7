'use strict';
// haproxy for the rolling-restart drill: a generated config on 127.0.0.1, run in
// the foreground (-db) as our child, read through its CSV stats page, stopped by PID.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const INSTALL_HINT = 'haproxy is not installed. On Debian/Ubuntu: sudo apt-get install haproxy (CI installs it); on macOS: brew install haproxy. Or skip this part: npm run drill -- --no-haproxy';

/** The haproxy binary and its version, or null when it is not installed. */
function findHaproxy() {
  for (const candidate of [process.env.HAPROXY, 'haproxy', '/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].filter(Boolean)) {
    const probe = spawnSync(candidate, ['-v'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) {
      const version = (/version (\S+)/i.exec(probe.stdout) || [])[1] || 'unknown';
      return { binary: candidate, version };
    }
  }
  return null;
}

/**
 * The config: one frontend, one backend of `servers` with an HTTP health check
 * on /readyz, and a stats page. Retries only where nothing was sent yet
 * (`retry-on conn-failure`, to another server with `option redispatch`): a
 * request that reached a server is never replayed, so every loss is visible.
 */
function config({ frontPort, statsPort, servers, check }) {
  return [
    'global',
    '  maxconn 2000',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 15s',
    '  timeout server 15s',
    '  timeout http-keep-alive 10s',
    '  timeout queue 5s',
    // Without it a check times out after `inter`: on a busy machine a slow but
    // healthy answer would mark a server down.
    '  timeout check 2s',
    '  retries 3',
    '  retry-on conn-failure',
    '  option redispatch 1',
    '',
    'frontend drill',
    `  bind 127.0.0.1:${frontPort}`,
    '  default_backend app',
    '',
    'backend app',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    `  default-server inter ${check.interMs}ms fastinter ${check.interMs}ms downinter ${check.interMs}ms fall ${check.fall} rise ${check.rise}`,
    ...servers.map((server) => `  server ${server.name} 127.0.0.1:${server.port} check`),
    '',
    'listen stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

/** Starts haproxy in the foreground with `cfg`; resolves once its frontend accepts connections. */
async function startHaproxy({ binary, cfg, frontPort }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-drill-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, cfg);
  const child = spawn(binary, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${output}`);
    if (await accepts(frontPort)) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not listen within 10 s:\n${output}`);
    await sleep(50);
  }
  return {
    child,
    file,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = require('node:net').connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The status (UP, DOWN, MAINT, ...) of each server of backend `app`, from the CSV stats page. */
function serverStates(statsPort) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: statsPort, path: '/stats;csv', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        const [header, ...rows] = body.trim().split('\n');
        const columns = header.replace(/^# /, '').split(',');
        const at = (name) => columns.indexOf(name);
        const states = {};
        for (const row of rows) {
          const cells = row.split(',');
          if (cells[at('pxname')] === 'app' && !['FRONTEND', 'BACKEND'].includes(cells[at('svname')])) states[cells[at('svname')]] = cells[at('status')];
        }
        resolve(states);
      });
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('stats page did not answer')));
  });
}

/** Resolves once server `name` is `UP` (or `want`) in haproxy's view; rejects after `timeoutMs`. */
async function waitForState(statsPort, name, want = 'UP', timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = (await serverStates(statsPort).catch(() => ({})))[name];
    if (last && last.split(' ')[0] === want) return;
    await sleep(25);
  }
  throw new Error(`haproxy did not see ${name} ${want} within ${timeoutMs} ms (last: ${last})`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

module.exports = { INSTALL_HINT, findHaproxy, config, startHaproxy, serverStates, waitForState };
