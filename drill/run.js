'use strict';
// npm run drill [-- options]: keel-drill (@keel/drill) run against keel's drill
// server, the demo, and the alternatives, in the same run: requests lost per
// SIGTERM under keep-alive load, and per rolling restart behind haproxy. Exits 1
// if keel lost any request. See drill/README.md.

const fs = require('node:fs');
const path = require('node:path');
const { parseFlags } = require('../scripts/parse-flags');
const { CURRENT_LTS, SUPPORTED_LINES, parseNodeLine, runOnNodeLine } = require('../scripts/node-lines');
const { runDrill, markdown } = require('@keel/drill');

const root = path.join(__dirname, '..');
/** keel's own servers: their losses fail the drill. */
const KEEL_SERVERS = ['keel', 'demo'];
const SERVERS = [
  ...fs
    .readdirSync(path.join(__dirname, 'servers'))
    .filter((file) => file.endsWith('.js') && !file.startsWith('_'))
    .map((file) => file.slice(0, -3)),
  'demo',
];
const CLIENTS = ['agent', 'undici'];
/** Clients run only when named: `no-keep-alive` opens a new connection per request. */
const KNOWN_CLIENTS = [...CLIENTS, 'no-keep-alive'];

const TITLES = {
  keel: 'keel (full stack, `drainOnShutdown`)',
  demo: 'keel demo (`npm start`)',
  naive: 'naive exit (no handler)',
  'http-terminator': 'http-terminator alone',
};

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
  --node ${SUPPORTED_LINES.join('|')}     the Node line the servers and clients run on (default ${CURRENT_LTS}, the active LTS; others from scripts/node-matrix)
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
  node: { type: 'string' },
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
    node: parseNodeLine(values.node ?? CURRENT_LTS),
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
// keel's deregistration delay behind haproxy: longer than its health check's fall x inter plus a check's own time.
const PRE_STOP_MS = 1500;

/** The drill's target for one server: drill/servers/<name>.js, or the demo (`npm start`). */
function target(name, shutdowns, rolling) {
  const common = { name, title: TITLES[name] ?? name, judged: KEEL_SERVERS.includes(name), shutdowns, rolling, readyPath: '/readyz' };
  if (name === 'demo') {
    return { ...common, command: `"${process.execPath}" demo/server.js`, cwd: root, paths: ['/fast'], slowPaths: ['/slow?ms={ms}'], rollingEnv: {} };
  }
  return {
    ...common,
    fixture: path.join(__dirname, 'servers', `${name}.js`),
    paths: ['/work?id={id}&ms=0'],
    slowPaths: ['/work?id={id}&ms={ms}'],
    rollingEnv: { PRE_STOP_MS: String(PRE_STOP_MS) },
  };
}

function versions() {
  const version = (name) => {
    try {
      return require(`${name}/package.json`).version;
    } catch {
      return 'missing';
    }
  };
  return { express: version('express'), undici: version('undici'), 'http-terminator': version('http-terminator') };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  // Re-runs this script on that line's binary unless this is it: servers and clients then run there too.
  runOnNodeLine(options.node);
  const names = [...new Set([...options.servers, ...(options.haproxy ? options.rollingServers : [])])];
  const targets = names.map((name) => {
    const shutdowns = !options.servers.includes(name) ? 0 : name === 'keel' ? options.shutdowns : name === 'demo' ? Math.min(options.shutdowns, options.comparatorShutdowns) : options.comparatorShutdowns;
    return target(name, shutdowns, options.rollingServers.includes(name));
  });
  const results = await runDrill({
    ...LOAD,
    targets,
    subject: 'keel',
    clients: options.clients,
    rolling: options.haproxy && options.restarts > 0 && options.rollingServers.length > 0,
    restarts: options.restarts,
    rollingClients: options.rollingClients,
    onProgress: (event) => {
      if (event.summary !== undefined) process.stderr.write(`[drill] ${event.done}/${event.total} ${event.part} ${event.target} (${event.client}): ${event.summary}\n`);
    },
  });
  Object.assign(results.machine, versions());
  results.settings.ci = options.ci;
  results.settings.preStopMs = PRE_STOP_MS;
  results.keelFailures = results.failures;
  const report = markdown(results);
  const out = options.out || path.join(__dirname, 'results', `drill-${results.startedAt.replace(/[:.]/g, '-')}.md`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, report);
  fs.writeFileSync(out.replace(/\.md$/, '') + '.json', JSON.stringify(results, null, 2));
  process.stdout.write(`${report}\n`);
  process.stderr.write(`[drill] report written to ${path.relative(process.cwd(), out)} (and .json)\n`);
  if (results.failures.length > 0) {
    process.stderr.write(`[drill] keel lost requests or could not be drilled: ${results.failures.join('; ')}\n`);
    process.exit(1);
  }
}

main().catch((error) => {
  process.stderr.write(`[drill] ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
