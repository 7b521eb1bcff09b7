'use strict';
// Starting the server and load processes (each pinned to its own core where
// `taskset` exists) and talking to them over IPC.

const { spawn, spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

const SERVER = path.join(__dirname, 'server.js');
const LOAD = path.join(__dirname, 'load.js');

/** The cores to pin the server and the load generator to, or null when pinning is not possible. */
function pinning(wanted = true) {
  if (!wanted || process.platform !== 'linux') return null;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  if (cores < 2) return null;
  const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) return null;
  return { server: '0', load: '1' };
}

/**
 * Spawns `node <file> ...args` with an IPC channel, under `taskset -c <core>`
 * when a core is given, and behind `wrapper` (a command and its arguments, such
 * as valgrind's) when one is given.
 */
function spawnNode(file, args, { core, nodeArgs = [], env, wrapper = [] } = {}) {
  const nodeCommand = [...wrapper, process.execPath, ...nodeArgs, file, ...args];
  const [command, ...rest] = core ? ['taskset', '-c', core, ...nodeCommand] : nodeCommand;
  return spawn(command, rest, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, NODE_ENV: 'production', ...env } });
}

/** Wraps a child with request/response over IPC: `call(message)` resolves with the reply carrying the same id. */
function rpc(child) {
  let nextId = 1;
  const pending = new Map();
  child.on('message', (message) => {
    if (message && message.id !== undefined && pending.has(message.id)) {
      const { resolve } = pending.get(message.id);
      pending.delete(message.id);
      resolve(message);
    }
  });
  child.on('exit', (code, signal) => {
    for (const { reject } of pending.values()) reject(new Error(`process exited (code ${code}, signal ${signal}) before answering`));
    pending.clear();
  });
  return (message) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ ...message, id });
    });
}

/** Resolves with the first IPC message of one of `types`; rejects if the child exits first or after `timeoutMs`. */
function firstMessage(child, types, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => done(new Error(`no ${types.join('/')} message within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    const onMessage = (message) => {
      if (message && types.includes(message.type)) done(null, message);
    };
    const onExit = (code, signal) => done(new Error(`exited (code ${code}, signal ${signal}) before ${types.join('/')}; stderr: ${stderr}`));
    function done(error, message) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Ends a child we started: closes its IPC channel (it exits on disconnect), then SIGKILL by PID if it lingers. */
function stopChild(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.disconnect();
    else if (child.pid) process.kill(child.pid, 'SIGKILL');
  });
}

/** Starts a server for `variant`: resolves with {status:'listening', child, port, call} or {status:'unavailable', reason}. */
async function startServer(variant, { core, nodeArgs, wrapper, startTimeoutMs } = {}) {
  const child = spawnNode(SERVER, [variant], { core, nodeArgs, wrapper });
  child.stdout.resume();
  const first = await firstMessage(child, ['listening', 'unavailable'], startTimeoutMs);
  if (first.type === 'unavailable') {
    await stopChild(child);
    return { status: 'unavailable', reason: first.reason };
  }
  return { status: 'listening', child, port: first.port, call: rpc(child) };
}

/** Starts the long-lived load generator: resolves with {child, run(options)}. */
async function startLoad({ core } = {}) {
  const child = spawnNode(LOAD, [], { core });
  child.stdout.resume();
  await firstMessage(child, ['ready']);
  const call = rpc(child);
  return {
    child,
    async run(options) {
      const reply = await call({ type: 'run', ...options });
      if (reply.error) throw new Error(`load generator failed: ${reply.error}`);
      return reply.result;
    },
  };
}

module.exports = { pinning, spawnNode, startServer, startLoad, stopChild };
