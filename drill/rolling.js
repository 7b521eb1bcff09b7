'use strict';
// A rolling restart behind haproxy: two instances of one server kind, keep-alive
// load through haproxy, each instance restarted in turn (SIGTERM, wait for its
// exit, start its replacement on the same port, wait until haproxy's health
// check sees it UP). Every client request is classified as in the single-instance
// drill; a client-visible failure is any answer but 200 with the right body,
// a reset, a hang-up, a truncation, a hang or a refusal.

const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { createClient } = require('./shutdown-load');
const { config, startHaproxy, waitForState } = require('./haproxy');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const between = ([min, max]) => min + Math.floor(Math.random() * (max - min + 1));

const DEFAULTS = Object.freeze({
  nodePath: process.execPath,
  client: 'agent',
  connections: 20,
  thinkMs: [5, 15],
  slowShare: 0.05,
  slowMs: [300, 800],
  warmupMs: 1000,
  tailMs: 500,
  restarts: 1,
  // haproxy marks a server down after `fall` failed checks `interMs` apart.
  check: Object.freeze({ interMs: 200, fall: 2, rise: 1 }),
  // keel's deregistration delay: longer than fall x inter plus a check's own time.
  preStopMs: 1500,
  requestTimeoutMs: 8000,
  env: Object.freeze({}),
});

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts one instance on `port`; resolves once it prints that it listens. */
function startInstance(file, port, { nodePath, env }) {
  const child = spawn(nodePath, [file], { env: { ...process.env, NODE_ENV: 'production', ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not listen on ${port} within 10 s; stderr: ${stderr}`)), 10000);
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      if (/"event":"listening"/.test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${file} exited before listening; stderr: ${stderr}`));
    });
  });
  return { child, exited, listening, stderr: () => stderr };
}

/**
 * One run: `restarts` rolling restarts of two instances of `server` (a file in
 * drill/servers) behind haproxy, under load. Resolves with the counts, the
 * failures, and each restart's exit code and timings.
 */
async function runRollingRestart(input) {
  const options = { ...DEFAULTS, ...input, check: { ...DEFAULTS.check, ...(input.check || {}) } };
  if (!options.haproxy) throw new Error('runRollingRestart: haproxy ({ binary }) is required');
  const file = path.join(__dirname, 'servers', `${options.server}.js`);
  const [frontPort, statsPort, portA, portB] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const env = { ...options.env, PRE_STOP_MS: String(options.preStopMs) };
  const backends = [
    { name: 'a', port: portA },
    { name: 'b', port: portB },
  ];
  const instances = {};
  let proxy;
  const requests = [];
  const restarts = [];
  let stop = false;
  let workers = [];
  let client;
  try {
    for (const backend of backends) {
      instances[backend.name] = startInstance(file, backend.port, { nodePath: options.nodePath, env });
      await instances[backend.name].listening;
    }
    proxy = await startHaproxy({ binary: options.haproxy.binary, cfg: config({ frontPort, statsPort, servers: backends, check: options.check }), frontPort });
    for (const backend of backends) await waitForState(statsPort, backend.name, 'UP');

    client = createClient(options.client, { port: frontPort, connections: options.connections, requestTimeoutMs: options.requestTimeoutMs });
    let nextId = 0;
    const worker = async () => {
      while (!stop) {
        const slow = Math.random() < options.slowShare;
        const ms = slow ? between(options.slowMs) : 0;
        const id = `${process.pid}-${nextId++}`;
        const record = { id, ms, startedAt: Date.now(), endedAt: undefined, outcome: undefined, code: undefined };
        requests.push(record);
        const result = await client.send(`/work?id=${id}&ms=${ms}`, id);
        Object.assign(record, result, { endedAt: Date.now() });
        await sleep(between(options.thinkMs));
      }
    };
    const loadStartedAt = Date.now();
    workers = Array.from({ length: options.connections }, () => worker());
    await sleep(options.warmupMs);

    for (let round = 0; round < options.restarts; round++) {
      for (const backend of backends) {
        const old = instances[backend.name];
        const signalAt = Date.now();
        restarts.push({ instance: backend.name, signalAtMs: signalAt - loadStartedAt });
        old.child.kill('SIGTERM');
        let timer;
        const exit = await Promise.race([old.exited, new Promise((resolve) => (timer = setTimeout(resolve, 60000, null)))]);
        clearTimeout(timer);
        if (exit === null) {
          old.child.kill('SIGKILL');
          throw new Error(`${options.server} instance ${backend.name} did not exit within 60 s of SIGTERM`);
        }
        const replacement = startInstance(file, backend.port, { nodePath: options.nodePath, env });
        instances[backend.name] = replacement;
        await replacement.listening;
        await waitForState(statsPort, backend.name, 'UP');
        Object.assign(restarts[restarts.length - 1], { exitCode: exit.code, exitSignal: exit.signal, signalToExitMs: exit.at - signalAt, signalToUpMs: Date.now() - signalAt });
      }
    }
    await sleep(options.tailMs);
    stop = true;
    await Promise.all(workers);
    const loadMs = Date.now() - loadStartedAt;

    const counts = { total: requests.length, completed: 0, errorStatus: 0, refused: 0, lost: 0 };
    for (const request of requests) counts[request.outcome]++;
    const failures = requests.filter((request) => request.outcome !== 'completed');
    const byCode = {};
    for (const failure of failures) byCode[`${failure.outcome}:${failure.code}`] = (byCode[`${failure.outcome}:${failure.code}`] || 0) + 1;
    // One example of each distinct error answer, to tell the proxy's from the app's.
    const examples = {};
    for (const failure of failures) if (failure.detail !== undefined) examples[failure.code] ??= failure.detail;
    return {
      server: options.server,
      client: options.client,
      restarts,
      counts,
      failed: failures.length,
      byCode,
      examples,
      failures: failures.slice(0, 50).map(({ id, ms, outcome, code, startedAt, endedAt }) => ({ id, ms, outcome, code, startedAtMs: startedAt - loadStartedAt, endedAtMs: endedAt - loadStartedAt })),
      requestsPerSecond: requests.length / (loadMs / 1000),
      haproxyEvents: proxy
        .output()
        .split('\n')
        .filter((line) => /Server app\//.test(line)),
      haproxyVersion: options.haproxy.version,
    };
  } finally {
    stop = true;
    await Promise.all(workers);
    if (client) await client.close();
    for (const instance of Object.values(instances)) {
      if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill('SIGKILL');
      await instance.exited;
    }
    if (proxy) await proxy.stop();
  }
}

module.exports = { runRollingRestart, DEFAULTS };
