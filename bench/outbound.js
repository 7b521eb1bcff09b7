'use strict';
// npm run bench -- --outbound: the per-call cost of @keel/outbound's dispatcher
// against a bare undici Agent, calling one local server in the same run. A call
// that needs no retry must keep at least 0.95x the bare Agent's calls per second.
//
// The server and the client run in their own processes, pinned to cores 0 and 1
// where `taskset` exists. The client measures both dispatchers in every round, in
// alternating order, each after its own warm-up; the verdict is the median ratio.

const { spawn } = require('node:child_process');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const TARGET = 0.95;

const SERVER_SOURCE = `
const http = require('node:http');
const body = Buffer.from('{"ok":true}');
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
`;

function spawnPinned(args, core, wrapper = []) {
  const command = core ? ['taskset', '-c', core, ...wrapper, process.execPath, ...args] : [...wrapper, process.execPath, ...args];
  return spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, NODE_ENV: 'production' } });
}

function firstMessage(child) {
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`process exited with code ${code} before answering`)));
  });
}

/**
 * Calls `url` through `dispatcher` from `connections` concurrent loops for `ms`;
 * resolves with the calls made and the client's CPU time (user + system, µs) for them.
 */
async function measure(request, dispatcher, url, connections, ms) {
  let calls = 0;
  const until = performance.now() + ms;
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const answer = await request(url, { dispatcher });
        await answer.body.dump();
        calls++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { calls, cpu: used.user + used.system };
}

/** Makes `amount` calls through `dispatcher` from `connections` concurrent loops. */
async function callMany(request, dispatcher, url, connections, amount) {
  let left = amount;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (left-- > 0) {
        const answer = await request(url, { dispatcher });
        await answer.body.dump();
      }
    }),
  );
}

/** Asks the parent for the instructions this process has executed so far (it runs under callgrind). */
function instructionsSoFar() {
  return new Promise((resolve) => {
    process.once('message', (message) => resolve(message.instructions));
    process.send({ type: 'count' });
  });
}

/**
 * The client under callgrind: both dispatchers measured in alternating
 * slices of `calls` calls each; a slice's number is the instructions per call.
 */
async function countingClient({ url, slices, calls, connections, warmup }) {
  const { Agent, request } = require('undici');
  const { outbound } = require(path.join(__dirname, '..', 'packages', 'outbound'));
  const dispatchers = {
    agent: new Agent({ connections }),
    outbound: outbound({ dispatcher: new Agent({ connections }) }),
  };
  for (const dispatcher of Object.values(dispatchers)) await callMany(request, dispatcher, url, connections, warmup);
  process.send({ type: 'instrument' });
  await new Promise((resolve) => process.once('message', resolve));
  const samples = { agentIr: [], outboundIr: [] };
  for (let slice = 0; slice < slices; slice++) {
    for (const name of slice % 2 === 0 ? ['agent', 'outbound'] : ['outbound', 'agent']) {
      const before = await instructionsSoFar();
      await callMany(request, dispatchers[name], url, connections, calls);
      samples[`${name}Ir`].push(((await instructionsSoFar()) - before) / calls);
    }
  }
  for (const dispatcher of Object.values(dispatchers)) await dispatcher.close();
  return samples;
}

/**
 * `npm run bench:instructions -- --outbound`: the client's instructions per
 * call through outbound() against a bare undici Agent, counted by callgrind;
 * the server runs natively in its own process.
 */
async function countOutboundInstructions({ slices = 10, calls = 2000, connections = 50, warmup = 20000, log = () => {} } = {}) {
  const { instructionsSoFar, startCounting } = require('./callgrind');
  const server = spawnPinned(['-e', SERVER_SOURCE]);
  let worker;
  try {
    const { port } = await firstMessage(server);
    const url = `http://127.0.0.1:${port}/`;
    log(`outbound: ${slices} slices of ${calls} calls per dispatcher, ${connections} concurrent calls, ${warmup} warm-up calls each, client under callgrind`);
    worker = spawnPinned([__filename, '--counting-client', JSON.stringify({ url, slices, calls, connections, warmup })], null, ['valgrind', '-q', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${require('node:os').tmpdir()}/keel-outbound-callgrind.%p.out`]);
    worker.stdout.resume();
    const samples = await new Promise((resolve, reject) => {
      worker.on('exit', (code) => reject(new Error(`the counting client exited with code ${code}`)));
      worker.on('message', async (message) => {
        try {
          if (message.type === 'instrument') {
            await startCounting(worker.pid);
            worker.send({ type: 'instrumented' });
          } else if (message.type === 'count') {
            worker.send({ type: 'count', instructions: await instructionsSoFar(worker.pid) });
          } else if (message.type === 'samples') resolve(message.samples);
        } catch (error) {
          reject(error);
        }
      });
    });
    const ratios = samples.agentIr.map((agent, i) => agent / samples.outboundIr[i]);
    return { agentIr: median(samples.agentIr), outboundIr: median(samples.outboundIr), ratio: median(ratios), slices: ratios, target: TARGET, met: median(ratios) >= TARGET, node: process.version };
  } finally {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    server.kill();
  }
}

/** The counting result as markdown. */
function outboundInstructionsMarkdown(result) {
  return [
    '## @keel/outbound: instructions per call against a bare undici Agent',
    '',
    `The client under callgrind, both dispatchers in alternating slices; calls need no retry. Node ${result.node}.`,
    '',
    '| dispatcher | client instructions per call (median slice) | ratio (Agent / outbound) | target | met |',
    '|---|---:|---:|---|---|',
    `| undici \`Agent\` | ${Math.round(result.agentIr).toLocaleString('en-US')} | 1.000x | | |`,
    `| \`outbound()\` | ${Math.round(result.outboundIr).toLocaleString('en-US')} | ${result.ratio.toFixed(3)}x | >= ${result.target} | ${result.met ? 'yes' : 'NO'} |`,
    '',
    `Ratios by slice pair: ${result.slices.map((r) => r.toFixed(3)).join(', ')}.`,
    '',
  ].join('\n');
}

/**
 * The client process: both dispatchers stay open and are measured in short
 * alternating slices, so whatever slows the machine for a moment slows both;
 * a round's number is the sum of its slices.
 */
async function client({ url, rounds, duration, connections, warmup, slices }) {
  const { Agent, request } = require('undici');
  const { outbound } = require(path.join(__dirname, '..', 'packages', 'outbound'));
  const dispatchers = {
    agent: new Agent({ connections }),
    outbound: outbound({ dispatcher: new Agent({ connections }) }),
  };
  for (const dispatcher of Object.values(dispatchers)) await callMany(request, dispatcher, url, connections, warmup);
  const samples = { agent: [], outbound: [], agentCpu: [], outboundCpu: [] };
  const sliceMs = (duration * 1000) / slices;
  for (let round = 0; round < rounds; round++) {
    const calls = { agent: 0, outbound: 0 };
    const cpu = { agent: 0, outbound: 0 };
    for (let slice = 0; slice < slices; slice++) {
      const order = (round + slice) % 2 === 0 ? ['agent', 'outbound'] : ['outbound', 'agent'];
      for (const name of order) {
        const measured = await measure(request, dispatchers[name], url, connections, sliceMs);
        calls[name] += measured.calls;
        cpu[name] += measured.cpu;
      }
    }
    for (const name of ['agent', 'outbound']) {
      samples[name].push(calls[name] / duration);
      // µs of client CPU per call: what limits a client's throughput, and steadier than it on a shared machine.
      samples[`${name}Cpu`].push(cpu[name] / calls[name]);
    }
  }
  for (const dispatcher of Object.values(dispatchers)) await dispatcher.close();
  return samples;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Runs the outbound bench and resolves with its result:
 * `{ agent, outbound, ratio, rounds[], target, met }`, calls per second as medians.
 */
async function runOutboundBench({ rounds = 3, duration = 4, slices = 20, connections = 50, warmup = 10000, pins = null, log = () => {} } = {}) {
  const server = spawnPinned(['-e', SERVER_SOURCE], pins && pins.server);
  try {
    const { port } = await firstMessage(server);
    const url = `http://127.0.0.1:${port}/`;
    log(`outbound: ${rounds} round(s) of ${duration} s per dispatcher in ${slices} alternating slices, ${connections} concurrent calls, ${warmup} warm-up calls each`);
    const worker = spawnPinned([__filename, '--client', JSON.stringify({ url, rounds, duration, connections, warmup, slices })], pins && pins.load);
    const samples = await firstMessage(worker);
    const ratios = samples.agent.map((agent, i) => samples.outbound[i] / agent);
    const cpuRatios = samples.agentCpu.map((agent, i) => agent / samples.outboundCpu[i]);
    const ratio = median(ratios);
    const cpuRatio = median(cpuRatios);
    return {
      agent: median(samples.agent),
      outbound: median(samples.outbound),
      agentCpuPerCall: median(samples.agentCpu),
      outboundCpuPerCall: median(samples.outboundCpu),
      ratio,
      rounds: ratios,
      cpuRatio,
      cpuRounds: cpuRatios,
      target: TARGET,
      met: ratio >= TARGET,
      cpuMet: cpuRatio >= TARGET,
      node: process.version,
    };
  } finally {
    server.kill();
  }
}

/** The result as a markdown section of the bench report. */
function outboundMarkdown(result) {
  return [
    '## @keel/outbound: per-call cost against a bare undici Agent',
    '',
    `One local server, ${result.rounds.length} round(s), both dispatchers measured in alternating slices of each; calls need no retry. Node ${result.node}.`,
    '',
    '| dispatcher | calls/s (median) | client CPU per call | throughput ratio | CPU ratio (Agent / outbound) | target | met |',
    '|---|---|---|---|---|---|---|',
    `| undici \`Agent\` | ${Math.round(result.agent)} | ${result.agentCpuPerCall.toFixed(1)} µs | 1.000 | 1.000 | | |`,
    `| \`outbound()\` | ${Math.round(result.outbound)} | ${result.outboundCpuPerCall.toFixed(1)} µs | ${result.ratio.toFixed(3)} | ${result.cpuRatio.toFixed(3)} | >= ${result.target} | throughput ${result.met ? 'yes' : 'NO'}, CPU ${result.cpuMet ? 'yes' : 'NO'} |`,
    '',
    `Throughput ratios by round: ${result.rounds.map((r) => r.toFixed(3)).join(', ')}; CPU ratios by round: ${result.cpuRounds.map((r) => r.toFixed(3)).join(', ')}.`,
    'The client is the bottleneck (one process, one core): its CPU per call bounds its calls per second, and it is',
    'steadier than throughput when other work shares the machine; when the two disagree, trust the CPU ratio.',
    '',
  ].join('\n');
}

/**
 * `npm run bench -- --outbound`: runs the bench with the run's settings (its
 * rounds, duration, connections and warm-up), prints the report and writes it
 * to bench/results/outbound-<time>.md with its JSON next to it.
 */
async function reportOutbound(options, pins, startedAt, log) {
  const fs = require('node:fs');
  const slices = options.slices > 1 ? Math.max(options.slices, 10) : 4;
  const result = await runOutboundBench({ rounds: options.rounds, duration: options.duration, slices, connections: options.connections, warmup: options.warmup, pins, log });
  const report = outboundMarkdown(result);
  const out = options.out || path.join(__dirname, 'results', `outbound-${startedAt.toISOString().replace(/[:.]/g, '-')}.md`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, report);
  fs.writeFileSync(out.replace(/\.md$/, '') + '.json', JSON.stringify(result, null, 2));
  process.stdout.write(`${report}\n`);
  log(`report written to ${path.relative(process.cwd(), out)} (and .json)`);
}

module.exports = { runOutboundBench, outboundMarkdown, reportOutbound, countOutboundInstructions, outboundInstructionsMarkdown, TARGET };

if (require.main === module) {
  const clientAt = process.argv.indexOf('--client');
  const countingAt = process.argv.indexOf('--counting-client');
  if (countingAt !== -1) {
    countingClient(JSON.parse(process.argv[countingAt + 1])).then(
      (samples) => process.send({ type: 'samples', samples }, () => process.exit(0)),
      (error) => {
        process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
        process.exit(1);
      },
    );
  } else if (clientAt !== -1) {
    client(JSON.parse(process.argv[clientAt + 1])).then(
      (samples) => process.send(samples, () => process.exit(0)),
      (error) => {
        process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
        process.exit(1);
      },
    );
  } else {
    const { pinning } = require('./procs');
    const quick = process.argv.includes('--quick');
    runOutboundBench({ pins: pinning(!process.argv.includes('--no-pin')), log: (message) => process.stderr.write(`[bench] ${message}\n`), ...(quick ? { rounds: 1, duration: 1, slices: 4, warmup: 2000 } : {}) }).then(
      (result) => process.stdout.write(`${outboundMarkdown(result)}\n`),
      (error) => {
        process.stderr.write(`[bench] ${error && error.stack ? error.stack : error}\n`);
        process.exit(1);
      },
    );
  }
}
