'use strict';
// Keep-alive load against a server in a child process, one SIGTERM mid-load, and
// every request classified: completed, answered with an error status, refused
// before sending (ECONNREFUSED: it never left the client), lost (reset, hang-up,
// truncated or hung after it was sent), or, when the server reports the client
// ports it accepted and the client knows its own, reset on a connection the
// server never accepted (`resetUnaccepted`). Plain JS so that jest tests and scripts
// (`npm run drill`) can both require it. Loopback only; every wait is bounded.
const { spawn } = require('node:child_process');
const http = require('node:http');
const https = require('node:https');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const between = ([min, max]) => min + Math.floor(Math.random() * (max - min + 1));

/** Starts the fixture and resolves once it prints its port. */
function startServer({ fixture, env, nodePath, startTimeoutMs }) {
  const startedAt = Date.now();
  const child = spawn(nodePath, [fixture], { env: { ...process.env, NODE_ENV: 'test', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let stderr = '';
  let pending = '';
  let onLine = () => {};
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf('\n')) !== -1) {
      const text = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        line = text;
      }
      lines.push({ at: Date.now(), line });
      onLine(line);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
    child.on('error', (error) => {
      stderr += `spawn failed: ${error.message}`;
      resolve({ code: null, signal: null, at: Date.now() });
    });
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), startTimeoutMs + 30_000);
  void exited.then(() => clearTimeout(killer));
  const port = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture did not listen within ${startTimeoutMs} ms; stderr: ${stderr}`)), startTimeoutMs);
    onLine = (line) => {
      if (line && line.event === 'listening') {
        clearTimeout(timer);
        resolve(line.port);
      }
    };
    void exited.then(() => reject(new Error(`fixture exited before listening; stderr: ${stderr}`)));
  });
  return { child, port, exited, lines, startedAt, stderr: () => stderr };
}

/** `refused` only when the connection was refused: the request never left the client. */
function classifyError(error) {
  const code = (error && (error.code || (error.cause && error.cause.code))) || 'UNKNOWN';
  return { outcome: code === 'ECONNREFUSED' ? 'refused' : 'lost', code };
}

function expectedBody(id, body) {
  return typeof body === 'string' && body.startsWith(`done ${id} `);
}

/** A client over a node:http(s) Agent, with keepAlive unless `keepAlive` is false (then every request sends `Connection: close` on a new connection). */
function agentClient({ port, tls, connections, requestTimeoutMs, keepAlive = true }) {
  const mod = tls ? https : http;
  const agent = new mod.Agent({ keepAlive, maxSockets: connections, rejectUnauthorized: false });
  return {
    send(path, id) {
      return new Promise((resolve) => {
        let settled = false;
        const settle = (result) => {
          if (!settled) {
            settled = true;
            resolve(result);
          }
        };
        const req = mod.request({ host: '127.0.0.1', port, path, agent, method: 'GET' }, (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) settle({ outcome: 'errorStatus', code: String(res.statusCode), detail: body.slice(0, 200) });
            else settle(expectedBody(id, body) ? { outcome: 'completed' } : { outcome: 'lost', code: 'BAD_BODY' });
          });
          res.on('error', (error) => settle({ outcome: 'lost', code: `TRUNCATED_${error.code || error.message}` }));
          res.on('close', () => settle({ outcome: 'lost', code: 'TRUNCATED' }));
        });
        // The connection's client port, to match it against the ports the server accepted.
        let localPort;
        req.on('socket', (socket) => {
          if (socket.localPort !== undefined) localPort = socket.localPort;
          else socket.once('connect', () => (localPort = socket.localPort));
        });
        req.on('error', (error) => settle({ ...classifyError(error), localPort }));
        req.setTimeout(requestTimeoutMs, () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'HANG' })));
        req.end();
      });
    },
    close: async () => agent.destroy(),
  };
}

/** A client over an undici Pool. */
function undiciClient({ port, tls, connections, requestTimeoutMs }) {
  const { Pool } = require('undici');
  const pool = new Pool(`${tls ? 'https' : 'http'}://127.0.0.1:${port}`, {
    connections,
    pipelining: 1,
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
    connect: tls ? { rejectUnauthorized: false } : undefined,
  });
  return {
    async send(path, id) {
      try {
        const { statusCode, body } = await pool.request({ path, method: 'GET' });
        const text = await body.text();
        if (statusCode !== 200) return { outcome: 'errorStatus', code: String(statusCode), detail: text.slice(0, 200) };
        return expectedBody(id, text) ? { outcome: 'completed' } : { outcome: 'lost', code: 'BAD_BODY' };
      } catch (error) {
        return classifyError(error);
      }
    },
    close: async () => {
      await pool.destroy().catch(() => {});
    },
  };
}

/**
 * A client of `kind`: `'agent'` (a node:http(s) Agent with keepAlive), `'undici'`
 * (an undici Pool), or `'no-keep-alive'` (an Agent that opens a new connection
 * for every request: the client that keeps the listener busiest).
 * `send(path, id)` never rejects: it resolves with `{ outcome, code }`, plus
 * `detail` (the body's start) on an error status, to tell a proxy's answer from the app's.
 */
function createClient(kind, { port, tls, connections, requestTimeoutMs }) {
  if (kind === 'undici') return undiciClient({ port, tls, connections, requestTimeoutMs });
  return agentClient({ port, tls, connections, requestTimeoutMs, keepAlive: kind !== 'no-keep-alive' });
}

const DEFAULTS = Object.freeze({
  nodePath: process.execPath,
  env: {},
  client: 'agent',
  tls: false,
  connections: 20,
  thinkMs: [15, 45],
  slowShare: 0.1,
  slowMs: [300, 800],
  warmupMs: 400,
  signalJitterMs: 100,
  requestTimeoutMs: 6000,
  startTimeoutMs: 10_000,
  signal: 'SIGTERM',
});

/**
 * One shutdown under load. Resolves with the counts, the lost requests, the slow
 * requests in flight at the signal and how they ended, and the exit code and time.
 */
async function runShutdownLoad(input) {
  const options = { ...DEFAULTS, ...input };
  if (!options.fixture) throw new Error('runShutdownLoad: fixture is required');
  const server = startServer(options);
  const port = await server.port;
  const client = createClient(options.client, { port, ...options });
  const requests = [];
  let signalAt;
  let exitAt;
  let stop = false;
  let nextId = 0;

  async function worker() {
    while (!stop) {
      const slow = Math.random() < options.slowShare;
      const ms = slow ? between(options.slowMs) : 0;
      const id = `${process.pid}-${nextId++}`;
      const record = { id, ms, slow, startedAt: Date.now(), endedAt: undefined, outcome: undefined, code: undefined };
      requests.push(record);
      const result = await client.send(`/work?id=${id}&ms=${ms}`, id);
      record.endedAt = Date.now();
      record.outcome = result.outcome;
      record.code = result.code;
      record.localPort = result.localPort;
      // After the exit, new requests can only be refused: stop adding them.
      if (exitAt !== undefined) break;
      await sleep(between(options.thinkMs));
    }
  }

  const workers = Array.from({ length: options.connections }, () => worker());
  await sleep(options.warmupMs + between([0, options.signalJitterMs]));
  signalAt = Date.now();
  const inFlightAtSignal = requests.filter((request) => request.endedAt === undefined);
  server.child.kill(options.signal);
  const exit = await server.exited;
  exitAt = exit.at;
  stop = true;
  await Promise.all(workers);
  await client.close();

  const accepted = acceptedPorts(server.lines);
  if (accepted !== undefined) {
    for (const request of requests) {
      if (request.outcome === 'lost' && request.localPort !== undefined && !accepted.has(request.localPort)) request.outcome = 'resetUnaccepted';
    }
  }
  const counts = { total: requests.length, completed: 0, errorStatus: 0, refused: 0, lost: 0, resetUnaccepted: 0 };
  for (const request of requests) counts[request.outcome]++;
  const timing = ({ id, ms, code, startedAt, endedAt }) => ({ id, ms, code, startedAfterSignalMs: startedAt - signalAt, endedAfterSignalMs: endedAt - signalAt });
  const slowInFlight = inFlightAtSignal.filter((request) => request.slow);
  const completedAfterSignal = requests.filter((request) => request.outcome === 'completed' && request.endedAt >= signalAt);
  return {
    client: options.client,
    tls: options.tls,
    counts,
    lost: requests.filter((request) => request.outcome === 'lost').map(timing),
    resetUnaccepted: requests.filter((request) => request.outcome === 'resetUnaccepted').map(timing),
    errorStatuses: requests.filter((request) => request.outcome === 'errorStatus').map(({ id, code }) => ({ id, code })),
    inFlightAtSignal: inFlightAtSignal.length,
    slowInFlightAtSignal: slowInFlight.length,
    slowInFlightCompleted: slowInFlight.filter((request) => request.outcome === 'completed').length,
    completedAfterSignal: completedAfterSignal.length,
    longestRequestMs: Math.max(0, ...requests.filter((request) => request.outcome === 'completed').map((request) => request.ms)),
    signalAt,
    exitCode: exit.code,
    shutdownMs: shutdownMs(server.lines),
    exitSignal: exit.signal,
    signalToExitMs: exitAt - signalAt,
    durationMs: Date.now() - server.startedAt,
    lines: server.lines.map(({ at, line }) => (line && typeof line === 'object' ? { ...line, atMs: at - signalAt } : line)),
    stderr: server.stderr(),
  };
}

/** The client ports the fixture says it accepted, or undefined when it does not say. */
function acceptedPorts(lines) {
  const found = lines.find(({ line }) => line && line.event === 'accepted-ports');
  return found === undefined ? undefined : new Set(found.line.ports);
}

/** From the fixture's "signal" line to its "exit" line, when it prints them (ms). */
function shutdownMs(lines) {
  const find = (event) => lines.find(({ line }) => line && line.event === event);
  const signal = find('signal');
  const exit = find('exit');
  return signal && exit ? exit.line.time - signal.line.time : undefined;
}

/** Adds up the results of several shutdowns. */
function summarize(results) {
  const total = { shutdowns: results.length, requests: 0, completed: 0, errorStatus: 0, refused: 0, lost: 0, resetUnaccepted: 0, slowInFlightAtSignal: 0, slowInFlightCompleted: 0, maxSignalToExitMs: 0, maxShutdownMs: 0, exitCodes: {} };
  for (const result of results) {
    total.requests += result.counts.total;
    total.completed += result.counts.completed;
    total.errorStatus += result.counts.errorStatus;
    total.refused += result.counts.refused;
    total.lost += result.counts.lost;
    total.resetUnaccepted += result.counts.resetUnaccepted;
    total.slowInFlightAtSignal += result.slowInFlightAtSignal;
    total.slowInFlightCompleted += result.slowInFlightCompleted;
    total.maxSignalToExitMs = Math.max(total.maxSignalToExitMs, result.signalToExitMs);
    total.maxShutdownMs = Math.max(total.maxShutdownMs, result.shutdownMs ?? 0);
    total.exitCodes[result.exitCode] = (total.exitCodes[result.exitCode] ?? 0) + 1;
  }
  return total;
}

/** Runs `count` shutdowns, at most `parallel` at a time. */
async function runShutdowns(count, parallel, options) {
  const results = [];
  let next = 0;
  async function lane() {
    while (next < count) {
      next++;
      results.push(await runShutdownLoad(options));
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, () => lane()));
  return results;
}

module.exports = { runShutdownLoad, runShutdowns, summarize, classifyError, createClient, DEFAULTS };
