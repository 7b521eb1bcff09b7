'use strict';
// npm run bench:cpu [-- options]: server CPU time per request of each variant,
// against bare Express 5 and against the variant's hand-written floor,
// measured in the same run. Every server runs for the whole run on one core;
// the load visits them in short slices, in a new order each slice, so the
// machine's slow stretches fall on all variants alike and ratios are taken
// slice by slice. Where the side-by-side throughput method of run.js needs
// load generators faster than two servers on one core (on Node 24 and 26 two
// autocannon processes on one core fall short), CPU time per request does
// not: it counts only the time the server ran, whatever the load generator
// manages. See bench/README.md.

const { parseFlags } = require('../scripts/parse-flags');
const { CURRENT_LTS, parseNodeLine, runOnNodeLine } = require('../scripts/node-lines');
const { pinning, startServer, startLoad, stopChild } = require('./procs');
const { DEFAULT_VARIANTS, variantsFor, summarize, markdownTable, shuffled, machineName } = require('./per-request');

const HELP = `Usage: npm run bench:cpu -- [options]

  --node N           the Node line to measure on: 20, 22, 24 or 26 (default ${CURRENT_LTS})
  --slices N         slices; every variant once per slice, in a new order (default 20)
  --requests N       measured requests per variant and slice (default 5000)
  --warmup N         warm-up requests per server before the first slice, discarded (default 20000)
  --connections N    keep-alive connections (default 50)
  --variants a,b     the variants to measure (names as in bench/variants)
  --help

Variants default to ${DEFAULT_VARIANTS.join(', ')}; bare Express 5 (twice: the
A/A row) and the hand-written floor each variant names are always added.
`;

const FLAGS = {
  node: { type: 'string' },
  slices: { type: 'string' },
  requests: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  variants: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** The server's CPU time per request around `amount` requests of the load generator. */
async function loadSlice(server, load, options, amount) {
  const before = (await server.call({ type: 'usage' })).usage;
  const result = await load.run({ url: server.url, connections: options.connections, amount });
  const after = (await server.call({ type: 'usage' })).usage;
  const cpuUs = after.cpuUserUs - before.cpuUserUs + (after.cpuSystemUs - before.cpuSystemUs);
  return { cost: cpuUs / result.requests, p99: result.latencyP99, peakRss: after.peakRss, failures: result.non2xx + result.errors + result.timeouts };
}

/** Every variant's server, started and warmed one after another; an unavailable variant keeps its reason. */
async function startServers(variants, load, options, pins) {
  const servers = new Map();
  for (const variant of variants) {
    const server = await startServer(variant.file, { core: pins && pins.server });
    if (server.status !== 'listening') {
      servers.set(variant.name, { unavailable: server.reason });
      continue;
    }
    server.url = `http://127.0.0.1:${server.port}/trivial`;
    servers.set(variant.name, server);
    await load.run({ url: server.url, connections: options.connections, amount: options.warmup });
    process.stderr.write(`[bench:cpu] ${variant.name}: started and warmed\n`);
  }
  return servers;
}

async function main() {
  const values = parseFlags(process.argv.slice(2), FLAGS, HELP);
  const line = values.node === undefined ? CURRENT_LTS : parseNodeLine(values.node);
  runOnNodeLine(line);
  const options = {
    slices: Number(values.slices ?? 20),
    requests: Number(values.requests ?? 5000),
    warmup: Number(values.warmup ?? 20000),
    connections: Number(values.connections ?? 50),
  };
  const variants = variantsFor(values.variants ? values.variants.split(',').filter(Boolean) : DEFAULT_VARIANTS);
  const pins = pinning(true);
  const load = await startLoad({ core: pins && pins.load });
  const samples = new Map(variants.map((variant) => [variant.name, []]));
  const startedAt = new Date().toISOString();
  let servers = new Map();
  try {
    servers = await startServers(variants, load, options, pins);
    for (const [name, server] of servers) if (server.unavailable) samples.get(name).push({ unavailable: server.unavailable });
    const running = variants.filter((variant) => !servers.get(variant.name).unavailable);
    for (let slice = 1; slice <= options.slices; slice++) {
      for (const variant of shuffled(running)) samples.get(variant.name).push(await loadSlice(servers.get(variant.name), load, options, options.requests));
      process.stderr.write(`[bench:cpu] slice ${slice}/${options.slices}: ${running.map((variant) => `${variant.name} ${samples.get(variant.name).at(-1).cost.toFixed(1)}`).join(', ')}\n`);
    }
  } finally {
    await Promise.all([...servers.values()].filter((server) => server.child).map((server) => stopChild(server.child)));
    await stopChild(load.child);
  }
  const pinned = pins ? ` on core ${pins.server}, autocannon in its own process on core ${pins.load}` : ', autocannon in its own process';
  const report = [
    `# keel bench, CPU per request: ${startedAt.slice(0, 10)}`,
    '',
    `- ${machineName()}; Node ${process.versions.node}; every server up for the whole run${pinned}; ${options.warmup} warm-up requests per server, then ${options.slices} slices of ${options.requests} requests per server, the servers in a new order each slice, \`GET /trivial\` over ${options.connections} keep-alive connections`,
    "- Server CPU: user + system CPU time of the server process per request (median of the slices). Ratio: bare Express 5's CPU per request over the variant's in the same slice (above 1.000x is cheaper), median over slices, interquartile range in brackets; to floor: the same against the variant's hand-written floor. The A/A row is a second bare Express 5 server: its distance from 1.000x is the noise of the run.",
    '',
    markdownTable(summarize(variants, samples, { paired: true }), { node: process.versions.node, costColumn: 'server CPU µs/req', formatCost: (us) => us.toFixed(1) }),
    '',
  ];
  process.stdout.write(report.join('\n'));
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
