'use strict';
// The server under test: one process per variant, `node bench/server.js <variant>`.
// Prints {"event":"listening","port":N} on stdout; when started with an IPC
// channel (by run.js) it also reports there and answers 'usage' (CPU time and
// memory of this process) and 'gc' (a full collection first, when started with
// --expose-gc) so the orchestrator can measure server CPU per request.

const path = require('node:path');
const { Unavailable } = require('./variants/_shared');

const name = process.argv[2] || process.env.BENCH_VARIANT;

function send(message) {
  if (process.send) process.send(message);
}

function usage() {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  // maxRSS: the peak resident set of the process so far, in KiB.
  return { cpuUserUs: cpu.user, cpuSystemUs: cpu.system, peakRss: process.resourceUsage().maxRSS * 1024, rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external };
}

let session;

/** Starts the V8 sampling profiler in this process (the inspector's, so only the load window is profiled). */
async function startProfile() {
  const inspector = require('node:inspector');
  session = new inspector.Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
}

/** Stops the profiler and writes the .cpuprofile to `file`. */
async function stopProfile(file) {
  const { profile } = await new Promise((resolve, reject) => session.post('Profiler.stop', (error, result) => (error ? reject(error) : resolve(result))));
  session.disconnect();
  require('node:fs').writeFileSync(file, JSON.stringify(profile));
}

function main() {
  if (!name) {
    console.error('usage: node bench/server.js <variant>');
    process.exit(2);
  }
  let built;
  try {
    // `keel-stack:without-guard+drain`: the variant's file, then what its build() is given.
    const [file, parameter] = name.split(':');
    const variant = require(path.join(__dirname, 'variants', `${file}.js`));
    built = variant.build(parameter);
  } catch (error) {
    const reason = error instanceof Unavailable ? error.message : `failed to build: ${error && error.stack}`;
    console.log(JSON.stringify({ event: 'unavailable', variant: name, reason }));
    send({ type: 'unavailable', reason });
    // Let the IPC message flush before exiting.
    setImmediate(() => process.exit(0));
    return;
  }
  const server = built.app.listen(0, '127.0.0.1', () => {
    if (built.attach) built.attach(server);
    const { port } = server.address();
    console.log(JSON.stringify({ event: 'listening', variant: name, port, pid: process.pid }));
    send({ type: 'listening', port, pid: process.pid });
  });
  process.on('message', (message) => {
    if (message && message.type === 'usage') send({ type: 'usage', id: message.id, usage: usage() });
    if (message && message.type === 'profile-start') startProfile().then(() => send({ type: 'profiling', id: message.id }));
    if (message && message.type === 'profile-stop') stopProfile(message.file).then(() => send({ type: 'profiled', id: message.id, file: message.file }));
    if (message && message.type === 'gc') {
      if (typeof global.gc === 'function') {
        global.gc();
        global.gc();
      }
      send({ type: 'usage', id: message.id, usage: usage(), collected: typeof global.gc === 'function' });
    }
  });
  // The orchestrator going away ends the server, whatever shutdown the variant installed.
  process.on('disconnect', () => process.exit(0));
}

main();
