'use strict';
// npm run drill [-- options]: requests lost per SIGTERM under keep-alive load,
// and per rolling restart behind haproxy, for keel and for the alternatives in
// the same run. Exits 1 if keel lost any request. See drill/README.md.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseFlags } = require('../scripts/parse-flags');
const { runShutdownLoad } = require('./shutdown-load');
const { runRollingRestart, DEFAULTS: ROLLING_DEFAULTS } = require('./rolling');
const { findHaproxy, INSTALL_HINT } = require('./haproxy');
const { markdown, keelFailures } = require('./report');

const SERVERS = fs
  .readdirSync(path.join(__dirname, 'servers'))
  .filter((file) => file.endsWith('.js') && !file.startsWith('_'))
  .map((file) => file.slice(0, -3));
const CLIENTS = ['agent', 'undici'];
/** Clients run only when named: `no-keep-alive` opens a new connection per request. */
const KNOWN_CLIENTS = [...CLIENTS, 'no-keep-alive'];

const HELP = `Usage: npm run drill -- [options]

  --ci                   the short form: 2 SIGTERMs of keel and 1 of each other server per client, one rolling restart of keel (node:http Agent)
  --shutdowns N          SIGTERMs per server and client (default 10)
  --comparator-shutdowns N  SIGTERMs of the servers other than keel (default: as --shutdowns)
  --servers a,b          single-instance servers (default ${SERVERS.join(',')})
  --clients a,b          clients: ${KNOWN_CLIENTS.join(', ')} (default ${CLIENTS.join(',')})
  --restarts N           rolling restarts (each restarts both instances) per server and client (default 3)
  --rolling-servers a,b  servers behind haproxy (default keel,http-terminator,naive)
  --rolling-clients a,b  clients for the rolling restarts (default ${CLIENTS.join(',')})
  --no-haproxy           skip the rolling restarts (they need haproxy)
  --out FILE             markdown report path (default drill/results/drill-<time>.md; JSON next to it)
  --help
`;

function list(value, known, what) {
  const items = value.split(',').filter(Boolean);
  for (const item of items) if (!known.includes(item)) throw new Error(`unknown ${what} ${item}; known: ${known.join(', ')}`);
  return items;
}

const FLAGS = {
  ci: { type: 'boolean' },
  shutdowns: { type: 'string' },
  'comparator-shutdowns': { type: 'string' },
  servers: { type: 'string' },
  clients: { type: 'string' },
  restarts: { type: 'string' },
  'rolling-servers': { type: 'string' },
  'rolling-clients': { type: 'string' },
  'no-haproxy': { type: 'boolean' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function parseArgs(argv) {
  const values = parseFlags(argv, FLAGS, HELP);
  const options = {
    ci: false,
    shutdowns: 10,
    comparatorShutdowns: undefined,
    servers: SERVERS,
    clients: CLIENTS,
    restarts: 3,
    rollingServers: ['keel', 'http-terminator', 'naive'],
    rollingClients: CLIENTS,
    haproxy: !values['no-haproxy'],
    out: values.out === undefined ? null : path.resolve(values.out),
  };
  if (values.ci) Object.assign(options, { ci: true, shutdowns: 2, comparatorShutdowns: 1, restarts: 1, rollingServers: ['keel'], rollingClients: ['agent'] });
  if (values.shutdowns !== undefined) options.shutdowns = Number(values.shutdowns);
  if (values['comparator-shutdowns'] !== undefined) options.comparatorShutdowns = Number(values['comparator-shutdowns']);
  if (values.restarts !== undefined) options.restarts = Number(values.restarts);
  if (values.servers !== undefined) options.servers = list(values.servers, SERVERS, 'server');
  if (values.clients !== undefined) options.clients = list(values.clients, KNOWN_CLIENTS, 'client');
  if (values['rolling-servers'] !== undefined) options.rollingServers = list(values['rolling-servers'], SERVERS, 'server');
  if (values['rolling-clients'] !== undefined) options.rollingClients = list(values['rolling-clients'], KNOWN_CLIENTS, 'client');
  options.comparatorShutdowns ??= options.shutdowns;
  for (const key of ['shutdowns', 'comparatorShutdowns']) {
    if (!(Number.isInteger(options[key]) && options[key] >= 0)) throw new Error(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a whole number`);
  }
  if (!(Number.isInteger(options.restarts) && options.restarts >= 0)) throw new Error('--restarts must be a whole number');
  return options;
}

// The load of both parts: ~500 req/s from 20 keep-alive connections on an idle
// machine, 1 request in 20 taking 300-800 ms.
const LOAD = Object.freeze({ connections: 20, thinkMs: [5, 15], slowShare: 0.05, slowMs: [300, 800], warmupMs: 1000, requestTimeoutMs: 8000 });

function log(message) {
  process.stderr.write(`[drill] ${message}\n`);
}

function machine() {
  const version = (name) => {
    try {
      return require(`${name}/package.json`).version;
    } catch {
      return 'missing';
    }
  };
  const cpus = os.cpus();
  return {
    cpu: cpus[0] ? cpus[0].model.trim() : 'unknown CPU',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    express: version('express'),
    undici: version('undici'),
    httpTerminator: version('http-terminator'),
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const results = {
    startedAt: startedAt.toISOString(),
    machine: machine(),
    settings: { ci: options.ci, ...LOAD, check: ROLLING_DEFAULTS.check, preStopMs: ROLLING_DEFAULTS.preStopMs },
    loadBefore: os.loadavg()[0],
    single: [],
    rolling: [],
    errors: [],
    haproxy: null,
    haproxySkipped: undefined,
  };

  for (const client of options.clients) {
    const rounds = Math.max(options.shutdowns, options.comparatorShutdowns);
    for (let n = 1; n <= rounds; n++) {
      // Interleaved, so a busy moment of the machine hits every server alike.
      for (const server of options.servers) {
        if (n > (server === 'keel' ? options.shutdowns : options.comparatorShutdowns)) continue;
        try {
          const result = await runShutdownLoad({ fixture: path.join(__dirname, 'servers', `${server}.js`), client, ...LOAD, env: { NODE_ENV: 'production' } });
          const { lines: _lines, stderr: _stderr, ...kept } = result;
          results.single.push({ server, ...kept });
          log(`SIGTERM ${n} ${server} (${client}): ${result.counts.completed} completed, ${result.counts.refused} refused, ${result.counts.lost} lost, ${result.counts.errorStatus} error status; exit ${result.exitCode ?? result.exitSignal} after ${result.signalToExitMs} ms`);
        } catch (error) {
          results.errors.push({ part: 'single instance', server, client, message: String(error && error.message) });
          log(`SIGTERM ${n} ${server} (${client}) failed to run: ${error && error.message}`);
        }
      }
    }
  }

  let haproxyMissing = false;
  if (!options.haproxy) {
    results.haproxySkipped = 'skipped with --no-haproxy';
  } else if (options.restarts > 0 && options.rollingServers.length > 0) {
    results.haproxy = findHaproxy();
    if (!results.haproxy) {
      haproxyMissing = true;
      results.haproxySkipped = INSTALL_HINT;
      log(INSTALL_HINT);
    } else {
      for (const client of options.rollingClients) {
        for (let n = 1; n <= options.restarts; n++) {
          for (const server of options.rollingServers) {
            try {
              const result = await runRollingRestart({ server, client, haproxy: results.haproxy, ...LOAD });
              results.rolling.push(result);
              log(`rolling restart ${n}/${options.restarts} ${server} (${client}): ${result.counts.completed} completed, ${result.failed} failed ${JSON.stringify(result.byCode)}`);
            } catch (error) {
              results.errors.push({ part: 'rolling restart', server, client, message: String(error && error.message) });
              log(`rolling restart ${n} ${server} (${client}) failed to run: ${error && error.message}`);
            }
          }
        }
      }
    }
  }

  results.loadAfter = os.loadavg()[0];
  results.durationMs = Date.now() - startedAt.getTime();
  results.keelFailures = keelFailures(results);
  const report = markdown(results);
  const out = options.out || path.join(__dirname, 'results', `drill-${startedAt.toISOString().replace(/[:.]/g, '-')}.md`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, report);
  fs.writeFileSync(out.replace(/\.md$/, '') + '.json', JSON.stringify(results, null, 2));
  process.stdout.write(`${report}\n`);
  log(`report written to ${path.relative(process.cwd(), out)} (and .json)`);
  if (results.keelFailures.length > 0) {
    log(`keel lost requests: ${results.keelFailures.join('; ')}`);
    process.exit(1);
  }
  if (haproxyMissing) {
    log('the rolling restart did not run: haproxy is missing (see above)');
    process.exit(1);
  }
}

main().catch((error) => {
  process.stderr.write(`[drill] ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
