'use strict';
// npm run bench [-- options]: the per-request cost of each keel package, the
// full stack and the libraries they replace, as ratios to bare Express 5
// measured in the same round. See bench/README.md.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseFlags } = require('../scripts/parse-flags');
const { CURRENT_LTS, JUDGED_LINES, SUPPORTED_LINES, parseNodeLine, runOnNodeLine } = require('../scripts/node-lines');
const { pinning, startServer, startLoad, stopChild } = require('./procs');
const { BASELINE, markdown, median, summarize, verdicts } = require('./report');
const { compare } = require('./profile');
const { ROUTES } = require('./variants/_shared');

const VARIANT_DIR = path.join(__dirname, 'variants');
const ALL_VARIANTS = fs
  .readdirSync(VARIANT_DIR)
  .filter((file) => file.endsWith('.js') && !file.startsWith('_'))
  .map((file) => file.slice(0, -3));
// Baselines first, then keel, then the rest: only the order of the tables.
const GROUP_ORDER = ['baseline', 'keel', 'stack', 'floor', 'comparator', 'reference'];

const HELP = `Usage: npm run bench -- [options]

  --rounds N            rounds; every variant runs once per round, in a new order (default 3)
  --duration S          measured seconds per variant and route in a round, the baseline running beside it (default 2)
  --slices N            slices the duration is split into; a round's ratio sums them (default 4)
  --warmup N            warm-up requests before each measurement, discarded (default 10000): a fresh
                        server needs some thousands of requests before V8 has optimised its hot path
  --connections N       autocannon keep-alive connections per server (default 50)
  --variants a,b        only these variants (bare Express 5 is always added); names: ${ALL_VARIANTS.join(', ')}
  --routes a,b          routes: ${Object.keys(ROUTES).join(', ')} (default both)
  --memory-requests N   requests after warm-up in the memory check (default 200000; 0 skips it)
  --no-profile          do not profile variants that miss a target
  --no-pin              do not pin the servers and the load generators to cores
  --seed N              seed of the round order (default: time)
  --out FILE            markdown report path (default bench/results/bench-<time>.md; JSON next to it)
  --quick               smoke run: 1 round, 1 slice of 1 s, 2000 warm-up requests, 20000 memory requests, no profiles
  --outbound            only the client-side bench: @keel/outbound's dispatcher against a bare undici Agent (bench/outbound.js)
  --node ${SUPPORTED_LINES.join('|')}     the Node line the servers and load generators run on (default ${CURRENT_LTS}, the active
                        LTS; targets are judged on ${JUDGED_LINES.join(' and ')}); other lines come from scripts/node-matrix
  --help
`;

const FLAGS = {
  rounds: { type: 'string' },
  duration: { type: 'string' },
  slices: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  variants: { type: 'string' },
  routes: { type: 'string' },
  'memory-requests': { type: 'string' },
  'no-profile': { type: 'boolean' },
  'no-pin': { type: 'boolean' },
  seed: { type: 'string' },
  out: { type: 'string' },
  quick: { type: 'boolean' },
  outbound: { type: 'boolean' },
  node: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function parseArgs(argv) {
  const values = parseFlags(argv, FLAGS, HELP);
  const options = {
    rounds: 3,
    duration: 2,
    slices: 4,
    warmup: 10000,
    connections: 50,
    variants: null,
    routes: Object.keys(ROUTES),
    memoryRequests: 200000,
    profile: !values['no-profile'],
    pin: !values['no-pin'],
    seed: Date.now() % 100000,
    out: values.out === undefined ? null : path.resolve(values.out),
    node: parseNodeLine(values.node ?? CURRENT_LTS),
  };
  if (values.quick) Object.assign(options, { rounds: 1, duration: 1, slices: 1, warmup: 2000, memoryRequests: 20000, profile: false });
  options.outbound = values.outbound === true;
  const numbers = { rounds: 'rounds', duration: 'duration', slices: 'slices', warmup: 'warmup', connections: 'connections', 'memory-requests': 'memoryRequests', seed: 'seed' };
  for (const [flag, key] of Object.entries(numbers)) if (values[flag] !== undefined) options[key] = Number(values[flag]);
  if (values.variants !== undefined) options.variants = values.variants.split(',').filter(Boolean);
  if (values.routes !== undefined) options.routes = values.routes.split(',').filter(Boolean);

  for (const key of ['rounds', 'duration', 'connections', 'slices']) {
    if (!(options[key] > 0)) throw new Error(`--${key} must be a positive number`);
  }
  if (!(options.warmup >= 0)) throw new Error('--warmup must be 0 or more');
  if (!(options.memoryRequests >= 0)) throw new Error('--memory-requests must be 0 or more');
  for (const route of options.routes) if (!ROUTES[route]) throw new Error(`unknown route ${route}; known: ${Object.keys(ROUTES).join(', ')}`);
  if (options.variants) {
    for (const name of options.variants) if (!ALL_VARIANTS.includes(name)) throw new Error(`unknown variant ${name}; known: ${ALL_VARIANTS.join(', ')}`);
    if (!options.variants.includes(BASELINE)) options.variants.unshift(BASELINE);
  }
  return options;
}

/** A small seeded generator, so a run's order can be repeated with --seed. */
function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function shuffled(items, next) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function machine() {
  const cpus = os.cpus();
  const version = (name) => {
    try {
      return require(`${name}/package.json`).version;
    } catch {
      return 'missing';
    }
  };
  return {
    cpu: cpus[0] ? cpus[0].model.trim() : 'unknown CPU',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round(os.totalmem() / 1073741824),
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    express5: version('express'),
    express4: version('express4'),
    autocannon: version('autocannon'),
  };
}

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

/**
 * One slice: both servers under load at once, each from its own load
 * generator, with each server's CPU time over the slice.
 */
async function sliceSideBySide(servers, route, loads, options, seconds) {
  const usage = () => Promise.all(servers.map(async (server) => (await server.call({ type: 'usage' })).usage));
  const before = await usage();
  const results = await Promise.all(servers.map((server, i) => loads[i].run({ url: `http://127.0.0.1:${server.port}${ROUTES[route]}`, connections: options.connections, duration: seconds })));
  const after = await usage();
  return results.map((result, i) => ({ ...result, peakRss: after[i].peakRss, cpuUs: after[i].cpuUserUs - before[i].cpuUserUs + (after[i].cpuSystemUs - before[i].cpuSystemUs) }));
}

function sum(items, key) {
  return items.reduce((total, item) => total + item[key], 0);
}

/**
 * Measures a variant's server beside the round's bare Express 5 server on every
 * route: a warm-up of the variant, then `slices` slices in which both servers
 * are loaded at once. Pinned to the same core, two always-busy servers get
 * equal shares of it, so their throughput ratio is the ratio of their costs per
 * request, and whatever slows the machine during a slice slows both alike.
 */
async function measureSideBySide(server, baseline, loads, options, round) {
  const out = {};
  const seconds = options.duration / options.slices;
  for (const route of options.routes) {
    const url = `http://127.0.0.1:${server.port}${ROUTES[route]}`;
    if (options.warmup > 0) await loads[0].run({ url, connections: options.connections, amount: options.warmup });
    const mine = [];
    const base = [];
    for (let i = 0; i < options.slices; i++) {
      const [variantSlice, baselineSlice] = await sliceSideBySide([server, baseline], route, loads, options, seconds);
      mine.push(variantSlice);
      base.push(baselineSlice);
    }
    const rps = sum(mine, 'requests') / sum(mine, 'seconds');
    const baseRps = sum(base, 'requests') / sum(base, 'seconds');
    const cpuUsPerRequest = sum(mine, 'cpuUs') / sum(mine, 'requests');
    const baseCpuUsPerRequest = sum(base, 'cpuUs') / sum(base, 'requests');
    out[route] = {
      round,
      requests: sum(mine, 'requests'),
      rps,
      baseRps,
      ratio: rps / baseRps,
      cpuUsPerRequest,
      baseCpuUsPerRequest,
      cpuRatio: baseCpuUsPerRequest / cpuUsPerRequest,
      latencyP50: median(mine.map((s) => s.latencyP50)),
      latencyP99: median(mine.map((s) => s.latencyP99)),
      peakRss: Math.max(...mine.map((s) => s.peakRss)),
      non2xx: sum(mine, 'non2xx'),
      errors: sum(mine, 'errors'),
      timeouts: sum(mine, 'timeouts'),
    };
  }
  return out;
}

/** RSS and heap of `variant` after a warm-up and after `requests` more, a full GC before each reading. */
async function measureMemory(variant, title, load, options, pins) {
  const server = await startServer(variant, { core: pins && pins.server, nodeArgs: ['--expose-gc'] });
  if (server.status !== 'listening') return { variant, title, error: server.reason };
  try {
    const url = `http://127.0.0.1:${server.port}${ROUTES.trivial}`;
    const warmup = Math.max(options.warmup, Math.round(options.memoryRequests / 10), 1000);
    const steps = 4;
    let requests = (await load.run({ url, connections: options.connections, amount: warmup })).requests;
    const points = [{ requests, ...(await server.call({ type: 'gc' })).usage }];
    for (let step = 0; step < steps; step++) {
      requests += (await load.run({ url, connections: options.connections, amount: Math.round(options.memoryRequests / steps) })).requests;
      points.push({ requests, ...(await server.call({ type: 'gc' })).usage });
    }
    return { variant, title, points, extraRequests: requests - points[0].requests };
  } finally {
    await stopChild(server.child);
  }
}

/** Profiles one variant's server under the same load as a measurement; returns the file and the requests served. */
async function profileServer(variant, route, load, options, pins, dir) {
  const server = await startServer(variant, { core: pins && pins.server });
  if (server.status !== 'listening') throw new Error(server.reason);
  try {
    const url = `http://127.0.0.1:${server.port}${ROUTES[route]}`;
    await load.run({ url, connections: options.connections, amount: Math.max(options.warmup, 10000) });
    await server.call({ type: 'profile-start' });
    const result = await load.run({ url, connections: options.connections, duration: Math.max(options.duration, 3) });
    const file = path.join(dir, `${variant}-${route}.cpuprofile`);
    await server.call({ type: 'profile-stop', file });
    return { file, requests: result.requests };
  } finally {
    await stopChild(server.child);
  }
}

function memoryVerdict(memories) {
  for (const memory of memories) {
    if (memory.error) continue;
    const first = memory.points[0];
    const last = memory.points[memory.points.length - 1];
    const growth = last.heapUsed - first.heapUsed;
    // 1 MiB over the run is under 6 bytes per request at 200,000 requests: a leak
    // of one small object per request would be tens of MiB.
    const limit = 1048576;
    memory.growthBytes = growth;
    memory.verdict =
      growth <= limit
        ? `no growth beyond noise (limit ${(limit / 1048576).toFixed(0)} MiB of heap, ${((growth / memory.extraRequests) | 0)} bytes/request)`
        : `**heap grew by ${(growth / 1048576).toFixed(1)} MiB (${(growth / memory.extraRequests).toFixed(1)} bytes/request): possible leak**`;
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  runOnNodeLine(options.node);
  const startedAt = new Date();
  const pins = pinning(options.pin);
  if (options.outbound) return require('./outbound').reportOutbound(options, pins, startedAt, log);
  const next = random(options.seed);
  const chosen = options.variants || ALL_VARIANTS;
  // A variant judged against its hand-written floor brings the floor along.
  const floors = chosen.map((name) => require(path.join(VARIANT_DIR, `${name}.js`)).floor).filter((floor) => floor !== undefined);
  const names = [...new Set([...chosen, ...floors])];
  const variants = names
    .map((name) => {
      const { title, group, setup, target, floor, limits, fasterThan } = require(path.join(VARIANT_DIR, `${name}.js`));
      return { name, title, group, setup, target, floor, limits, fasterThan: (fasterThan || []).filter((other) => names.includes(other)), status: 'ok' };
    })
    .sort((a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group));
  const results = {
    startedAt: startedAt.toISOString(),
    machine: machine(),
    settings: { rounds: options.rounds, duration: options.duration, slices: options.slices, warmup: options.warmup, connections: options.connections, routes: options.routes, pinning: pins, seed: options.seed },
    loadBefore: os.loadavg()[0],
    variants,
    samples: {},
    memory: [],
    profiles: [],
  };
  const perRound = variants.length * options.routes.length * (options.duration + 0.5);
  log(`${variants.length} variants, ${options.routes.length} routes, ${options.rounds} round(s): about ${Math.round((perRound * options.rounds) / 60)} min of measured load plus ${options.warmup} warm-up requests per variant and route, seed ${options.seed}`);

  // One load generator per server of a side-by-side slice; `load` alone drives warm-ups, memory and profiles.
  const loads = [await startLoad({ core: pins && pins.load }), await startLoad({ core: pins && pins.load })];
  const [load] = loads;
  try {
    for (let round = 1; round <= options.rounds; round++) {
      // The round's reference: a bare Express 5 server measured next to every variant.
      const baseline = await startServer(BASELINE, { core: pins && pins.server });
      if (baseline.status !== 'listening') throw new Error(`the baseline cannot start: ${baseline.reason}`);
      try {
        for (const route of options.routes) {
          await load.run({ url: `http://127.0.0.1:${baseline.port}${ROUTES[route]}`, connections: options.connections, amount: Math.max(options.warmup, 1000) });
        }
        const order = shuffled(
          variants.filter((variant) => variant.status === 'ok'),
          next,
        );
        for (const variant of order) {
          const server = await startServer(variant.name, { core: pins && pins.server });
          if (server.status === 'unavailable') {
            variant.status = 'unavailable';
            variant.reason = server.reason;
            log(`round ${round}: ${variant.name} unavailable: ${server.reason}`);
            continue;
          }
          try {
            const measured = await measureSideBySide(server, baseline, loads, options, round);
            results.samples[variant.name] ??= {};
            for (const [route, sample] of Object.entries(measured)) (results.samples[variant.name][route] ??= []).push(sample);
            log(`round ${round}: ${variant.name.padEnd(24)} ${options.routes.map((route) => `${route} ${Math.round(measured[route].rps)} req/s (${measured[route].ratio.toFixed(3)}x)`).join(', ')}`);
          } finally {
            await stopChild(server.child);
          }
        }
      } finally {
        await stopChild(baseline.child);
      }
    }

    if (options.memoryRequests > 0) {
      for (const name of ['keel-stack', BASELINE]) {
        const { title } = require(path.join(VARIANT_DIR, `${name}.js`));
        log(`memory: ${name}, ${options.memoryRequests} requests after warm-up`);
        results.memory.push(await measureMemory(name, title, load, options, pins));
      }
      memoryVerdict(results.memory);
    }

    if (options.profile) {
      const missed = verdicts(results).filter((check) => check.met === false);
      const targets = [...new Map(missed.map((check) => [`${check.variant} ${check.route}`, check])).values()];
      if (targets.length > 0) {
        const dir = path.join(__dirname, 'results', `profiles-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
        fs.mkdirSync(dir, { recursive: true });
        const baselines = {};
        for (const check of targets) {
          const variant = variants.find((v) => v.name === check.variant);
          log(`profile: ${check.variant} on ${check.route} (${check.claim}: ${check.value.toFixed(3)})`);
          try {
            baselines[check.route] ??= await profileServer(BASELINE, check.route, load, options, pins, dir);
            const profiled = await profileServer(check.variant, check.route, load, options, pins, dir);
            results.profiles.push({
              variant: check.variant,
              title: variant.title,
              route: check.route,
              file: path.relative(process.cwd(), profiled.file),
              comparison: compare(profiled.file, profiled.requests, baselines[check.route].file, baselines[check.route].requests),
            });
          } catch (error) {
            results.profiles.push({ variant: check.variant, title: variant.title, route: check.route, error: String(error && error.message) });
          }
        }
      }
    }
  } finally {
    for (const generator of loads) await stopChild(generator.child);
  }

  results.loadAfter = os.loadavg()[0];
  results.durationMs = Date.now() - startedAt.getTime();
  results.summary = summarize(results);
  results.verdicts = verdicts(results, results.summary);
  const report = markdown(results);
  const out = options.out || path.join(__dirname, 'results', `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.md`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, report);
  fs.writeFileSync(out.replace(/\.md$/, '') + '.json', JSON.stringify(results, null, 2));
  process.stdout.write(`${report}\n`);
  log(`report written to ${path.relative(process.cwd(), out)} (and .json)`);
}

main().catch((error) => {
  process.stderr.write(`[bench] ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
