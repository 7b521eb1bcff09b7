'use strict';
// npm run bench:instructions [-- options]: machine instructions per request of
// each variant's server, counted by valgrind (callgrind), against bare Express 5
// and against the variant's hand-written floor. CPU time on a shared virtual
// machine moves by 10-30% from one second to the next; the number of
// instructions a request executes does not depend on the machine's other
// tenants, so a 3% difference between two variants can be read from it. It
// counts work, not time: cache misses and stalls weigh nothing here, which is
// why bench:cpu (time) and bench (throughput) stay the measures of speed and
// this one the tie-breaker. See bench/README.md.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseFlags } = require('../scripts/parse-flags');
const { CURRENT_LTS, parseNodeLine, runOnNodeLine } = require('../scripts/node-lines');
const { startServer, startLoad, stopChild } = require('./procs');
const { instructionsSoFar, startCounting } = require('./callgrind');
const { DEFAULT_VARIANTS, variantsFor, summarize, markdownTable, machineName } = require('./per-request');

const HELP = `Usage: npm run bench:instructions -- [options]

  --node N           the Node line to measure on: 20, 22, 24 or 26 (default ${CURRENT_LTS})
  --slices N         measured slices per server (default 4)
  --requests N       requests per slice (default 5000)
  --warmup N         warm-up requests per server, not counted (default 40000)
  --connections N    keep-alive connections (default 50)
  --parallel N       servers measured at once (default: the number of cores)
  --semi-space MB    V8's young generation fixed at MB per semi-space (default 16; 0: V8's own sizing)
  --variants a,b     the variants to measure (names as in bench/variants)
  --outbound         instead: @keel/outbound's client instructions per call against a bare undici Agent
  --help

Needs valgrind (Debian: apt-get install valgrind). Variants default to
${DEFAULT_VARIANTS.join(', ')}; bare Express 5 (twice: the A/A row) and the
hand-written floor each variant names are always added.
`;

const FLAGS = {
  node: { type: 'string' },
  slices: { type: 'string' },
  requests: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  parallel: { type: 'string' },
  'semi-space': { type: 'string' },
  variants: { type: 'string' },
  outbound: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/**
 * One variant's samples: its server started under callgrind with
 * instrumentation off, warmed, then instrumented; each slice is the
 * instructions of `requests` requests, counted around them.
 */
async function measureVariant(variant, options, outDir) {
  const wrapper = ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${path.join(outDir, 'callgrind.%p.out')}`];
  // V8 sizes its young generation from allocation rates over wall time, which valgrind stretches
  // and which the other servers running at once change: fixed, every server collects alike.
  const nodeArgs = options.semiSpace > 0 ? [`--min-semi-space-size=${options.semiSpace}`, `--max-semi-space-size=${options.semiSpace}`] : [];
  const server = await startServer(variant.file, { wrapper, nodeArgs, startTimeoutMs: 180_000 });
  if (server.status !== 'listening') return [{ unavailable: server.reason }];
  const load = await startLoad();
  try {
    const url = `http://127.0.0.1:${server.port}/trivial`;
    await load.run({ url, connections: options.connections, amount: options.warmup });
    await startCounting(server.child.pid);
    const samples = [];
    for (let slice = 0; slice < options.slices; slice++) {
      const before = await instructionsSoFar(server.child.pid);
      const result = await load.run({ url, connections: options.connections, amount: options.requests });
      const after = await instructionsSoFar(server.child.pid);
      samples.push({ cost: (after - before) / result.requests, requests: result.requests, failures: result.non2xx + result.errors + result.timeouts });
    }
    process.stderr.write(`[bench:instructions] ${variant.name}: ${samples.map((sample) => Math.round(sample.cost)).join(', ')} instructions/request\n`);
    return samples;
  } finally {
    await stopChild(load.child);
    await stopChild(server.child, 10_000);
  }
}

/** Runs `work` over `items`, at most `limit` at once. */
async function inParallel(items, limit, work) {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length > 0) await work(queue.shift());
  });
  await Promise.all(workers);
}

async function main() {
  const values = parseFlags(process.argv.slice(2), FLAGS, HELP);
  const line = values.node === undefined ? CURRENT_LTS : parseNodeLine(values.node);
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error('npm run bench:instructions needs valgrind on the PATH (Debian: apt-get install valgrind)');
  runOnNodeLine(line);
  if (values.outbound) {
    const { countOutboundInstructions, outboundInstructionsMarkdown } = require('./outbound');
    const result = await countOutboundInstructions({ log: (message) => process.stderr.write(`[bench:instructions] ${message}\n`) });
    process.stdout.write(`${outboundInstructionsMarkdown(result)}\n`);
    return;
  }
  const options = {
    slices: Number(values.slices ?? 4),
    requests: Number(values.requests ?? 5000),
    warmup: Number(values.warmup ?? 40000),
    connections: Number(values.connections ?? 50),
    parallel: Number(values.parallel ?? (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length)),
    semiSpace: Number(values['semi-space'] ?? 16),
  };
  const variants = variantsFor(values.variants ? values.variants.split(',').filter(Boolean) : DEFAULT_VARIANTS);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-instructions-'));
  const samples = new Map();
  const startedAt = new Date().toISOString();
  try {
    await inParallel(variants, options.parallel, async (variant) => {
      samples.set(variant.name, await measureVariant(variant, options, outDir));
    });
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
  const report = [
    `# keel bench, instructions per request: ${startedAt.slice(0, 10)}`,
    '',
    `- ${machineName()}; Node ${process.versions.node}; ${probe.stdout.trim()} (callgrind); ${options.semiSpace > 0 ? `V8's young generation fixed at ${options.semiSpace} MB per semi-space; ` : ''}each server warmed with ${options.warmup} requests uninstrumented, then ${options.slices} slices of ${options.requests} requests counted, \`GET /trivial\` over ${options.connections} keep-alive connections, autocannon in its own process`,
    "- Instructions: every instruction the server process executed (all its threads: JavaScript, V8's compiler and garbage collector, libuv) per request, median of the slices: the steady work of a request, minor garbage collections included; the mean over all measured requests also counts the major collections that fell in the window (each adds 10-30% to its slice, so it moves with where they fell). Ratio: bare Express 5's median over the variant's (above 1.000x is cheaper), the variant's slices against it in brackets (interquartile); to floor: the same against the variant's hand-written floor. The A/A row is a second bare Express 5 server.",
    '',
    markdownTable(summarize(variants, samples, { paired: false }), { node: process.versions.node, costColumn: 'instructions/req', formatCost: (count) => Math.round(count).toLocaleString('en-US') }),
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
