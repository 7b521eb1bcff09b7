'use strict';
// npm run bench:cpu [-- options]: server CPU time per request of
// each variant, one server at a time, against bare Express 5 and against the
// variant's hand-written floor, measured in the same run. Where the
// side-by-side throughput method of run.js needs load generators faster than
// two servers on one core (on Node 24 and 26 two autocannon processes on one
// core fall short), CPU time per request does not: it counts only the time the
// server ran, whatever the load generator manages. See bench/README.md.

const path = require('node:path');
const { parseFlags } = require('../scripts/parse-flags');
const { CURRENT_LTS, parseNodeLine, runOnNodeLine } = require('../scripts/node-lines');
const { pinning, startServer, startLoad, stopChild } = require('./procs');
const { median } = require('./report');

const VARIANT_DIR = path.join(__dirname, 'variants');
const BASELINE = 'express5';
const DEFAULT_VARIANTS = ['keel-trace-id', 'keel-timeout', 'keel-stack', 'keel-drain', 'keel-error-handler', 'cls-rtracer', 'express-http-context', 'connect-timeout'];

const HELP = `Usage: npm run bench:cpu -- [options]

  --node N           the Node line to measure on: 20, 22, 24 or 26 (default ${CURRENT_LTS})
  --rounds N         rounds; every variant once per round, in a new order (default 3)
  --requests N       measured requests per variant and round (default 30000)
  --warmup N         warm-up requests before each measurement, discarded (default 15000)
  --connections N    keep-alive connections (default 50)
  --variants a,b     the variants to measure (names as in bench/variants)
  --help

Variants default to ${DEFAULT_VARIANTS.join(', ')}; bare Express 5 and the
hand-written floor each variant names are always added.
`;

const FLAGS = {
  node: { type: 'string' },
  rounds: { type: 'string' },
  requests: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  variants: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function loadVariant(name) {
  return { name, ...require(path.join(VARIANT_DIR, `${name}.js`)) };
}

/** One measurement: a fresh server, a warm-up, then `requests` requests with the server's CPU time around them. */
async function measure(variant, load, options, pins) {
  const server = await startServer(variant.name, { core: pins && pins.server });
  if (server.status !== 'listening') return { unavailable: server.reason };
  try {
    const url = `http://127.0.0.1:${server.port}/trivial`;
    await load.run({ url, connections: options.connections, amount: options.warmup });
    const before = (await server.call({ type: 'usage' })).usage;
    const result = await load.run({ url, connections: options.connections, amount: options.requests });
    const after = (await server.call({ type: 'usage' })).usage;
    const cpuUs = after.cpuUserUs - before.cpuUserUs + (after.cpuSystemUs - before.cpuSystemUs);
    return { cpuUsPerRequest: cpuUs / result.requests, p99: result.latencyP99, peakRss: after.peakRss, failures: result.non2xx + result.errors + result.timeouts };
  } finally {
    await stopChild(server.child);
  }
}

function shuffled(items) {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

/** The rows and verdicts of a run: CPU ratios to bare Express 5 and to each variant's floor. */
function summarizeCpu(variants, samples) {
  const rows = new Map();
  for (const variant of variants) {
    const mine = samples.get(variant.name) || [];
    if (mine.length === 0 || mine.some((sample) => sample.unavailable)) {
      rows.set(variant.name, { variant, unavailable: (mine.find((sample) => sample.unavailable) || {}).unavailable || 'not measured' });
      continue;
    }
    rows.set(variant.name, {
      variant,
      cpuUsPerRequest: median(mine.map((sample) => sample.cpuUsPerRequest)),
      all: mine.map((sample) => sample.cpuUsPerRequest),
      p99: median(mine.map((sample) => sample.p99)),
      peakRss: median(mine.map((sample) => sample.peakRss)),
      failures: mine.reduce((sum, sample) => sum + sample.failures, 0),
    });
  }
  const base = rows.get(BASELINE);
  // Ratios are taken round by round (a round measures every variant within a minute or
  // two), then their median: a slow stretch of the machine slows a whole round alike.
  const pairedRatio = (reference, row) => median(row.all.map((us, round) => reference.all[round] / us));
  for (const row of rows.values()) {
    if (row.unavailable || !base || base.unavailable) continue;
    row.toBare = pairedRatio(base, row);
    const floor = row.variant.floor && rows.get(row.variant.floor);
    if (floor && !floor.unavailable) row.toFloor = pairedRatio(floor, row);
    const checks = [];
    if (row.variant.target !== undefined) {
      const value = row.variant.floor ? row.toFloor : row.toBare;
      checks.push({ claim: `>= ${row.variant.target.toFixed(2)}x ${row.variant.floor ? 'of floor' : 'of bare'}`, met: Number.isFinite(value) ? value >= row.variant.target : null });
    }
    const limits = row.variant.limits || {};
    if (limits.p99 !== undefined) checks.push({ claim: `p99 <= ${limits.p99}x bare`, met: row.p99 / base.p99 <= limits.p99 });
    if (limits.rssMiB !== undefined) checks.push({ claim: `peak RSS <= bare + ${limits.rssMiB} MiB`, met: (row.peakRss - base.peakRss) / 1048576 <= limits.rssMiB });
    for (const other of row.variant.fasterThan || []) {
      const theirs = rows.get(other);
      if (theirs && !theirs.unavailable) checks.push({ claim: `faster than ${other}`, met: pairedRatio(theirs, row) > 1 });
    }
    row.checks = checks;
  }
  return rows;
}

function markdown(rows, meta) {
  const fixed = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
  const lines = [
    `# keel bench, CPU per request: ${meta.startedAt.slice(0, 10)}`,
    '',
    `- ${meta.machine}; Node ${meta.node}; ${meta.rounds} round(s), a fresh server per variant and round (pinned to core ${meta.pins ? meta.pins.server : '-'}, autocannon in its own process${meta.pins ? ` on core ${meta.pins.load}` : ''}), ${meta.warmup} warm-up then ${meta.requests} measured requests of \`GET /trivial\` over ${meta.connections} keep-alive connections`,
    `- CPU ratio: bare Express 5's server CPU per request over the variant's (above 1.000x is cheaper), taken round by round, median over rounds; floor ratio: the same against the variant's hand-written floor, measured in the same rounds`,
    '',
    `| variant (Node ${meta.node}) | server CPU µs/req (median; each round) | CPU ratio to bare | to floor | p99 ms | peak RSS MiB | targets |`,
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows.values()) {
    if (row.unavailable) {
      lines.push(`| ${row.variant.title} | unavailable: ${row.unavailable} | | | | | |`);
      continue;
    }
    const checks = (row.checks || []).map((check) => `${check.claim}: ${check.met === null ? 'n/a' : check.met ? 'met' : '**NOT met**'}`).join('; ');
    lines.push(
      `| ${row.variant.title} | ${fixed(row.cpuUsPerRequest)} (${row.all.map((us) => fixed(us)).join(', ')}) | ${fixed(row.toBare, 3)}x | ${row.toFloor === undefined ? '' : `${fixed(row.toFloor, 3)}x`} | ${fixed(row.p99, 0)} | ${fixed(row.peakRss / 1048576, 0)} | ${checks}${row.failures ? ` (${row.failures} failed requests)` : ''} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main() {
  const values = parseFlags(process.argv.slice(2), FLAGS, HELP);
  const line = values.node === undefined ? CURRENT_LTS : parseNodeLine(values.node);
  runOnNodeLine(line);
  const options = {
    rounds: Number(values.rounds ?? 3),
    requests: Number(values.requests ?? 30000),
    warmup: Number(values.warmup ?? 15000),
    connections: Number(values.connections ?? 50),
  };
  const chosen = values.variants ? values.variants.split(',').filter(Boolean) : DEFAULT_VARIANTS;
  const names = new Set([BASELINE, ...chosen]);
  for (const name of chosen) {
    const { floor, fasterThan } = loadVariant(name);
    if (floor) names.add(floor);
    for (const other of fasterThan || []) if (chosen.includes(other)) names.add(other);
  }
  const variants = [...names].map(loadVariant);
  const pins = pinning(true);
  const load = await startLoad({ core: pins && pins.load });
  const samples = new Map();
  const startedAt = new Date().toISOString();
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const variant of shuffled(variants)) {
        const sample = await measure(variant, load, options, pins);
        if (!samples.has(variant.name)) samples.set(variant.name, []);
        samples.get(variant.name).push(sample);
        process.stderr.write(`[bench:cpu] round ${round}: ${variant.name.padEnd(24)} ${sample.unavailable ? `unavailable: ${sample.unavailable}` : `${sample.cpuUsPerRequest.toFixed(1)} µs/req`}\n`);
      }
    }
  } finally {
    await stopChild(load.child);
  }
  const os = require('node:os');
  const machine = `${os.cpus()[0].model}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  process.stdout.write(markdown(summarizeCpu(variants, samples), { ...options, startedAt, machine, node: process.versions.node, pins }));
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

module.exports = { summarizeCpu, markdown };
