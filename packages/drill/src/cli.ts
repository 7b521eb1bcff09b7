#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CLIENT_KINDS, type ClientKind } from './clients';
import { runDrill } from './drill';
import { DrillOptionError, isDrillOptionError } from './errors';
import { DEFAULT_FAULTS, DEFAULTS, type DrillOptions, type DrillProgress } from './options';
import { markdown } from './report';

const HELP = `Usage: keel-drill --start "node app.js" [options]

Starts your app, drives keep-alive load at it, sends SIGTERM, and counts every
request: completed, refused before sending, or lost after sending. Repeats with a
fresh start each time, prints a report, and exits 1 if any request was lost.
The app must listen on the port in $PORT (on 127.0.0.1 or all interfaces); it
runs with NODE_ENV=production, as it does in production.

  --start CMD          the shell command that starts the app (required)
  --name NAME          its name in the report (default: app)
  --cwd DIR            where to run the command (default: here)
  --ready PATH         a path that answers 2xx once the app is ready, e.g. /readyz
                       (default: the first --url answering at all)
  --url PATH           a path to load; repeat for several (default: /).
                       {id} becomes the request's ID, which the body must then contain
  --slow-url PATH      a slow path; {ms} becomes ${DEFAULTS.slowMs[0]}-${DEFAULTS.slowMs[1]}; ${DEFAULTS.slowShare * 100}% of requests go there
  --shutdowns N        SIGTERMs per client (default ${DEFAULTS.shutdowns})
  --clients a,b        ${CLIENT_KINDS.join(', ')} (default ${DEFAULTS.clients.join(',')})
  --connections N      keep-alive connections per client (default ${DEFAULTS.connections})
  --warmup MS          load before each SIGTERM (default ${DEFAULTS.warmupMs})
  --timeout MS         a request unanswered this long is lost (default ${DEFAULTS.requestTimeoutMs})
  --rolling            also restart two instances in turn behind haproxy (needs haproxy)
  --restarts N         rounds of the rolling restart (default ${DEFAULTS.restarts})
  --faults [a,b]       send @keel/chaos triggers on ${DEFAULTS.faultShare * 100}% of requests
                       (default: ${DEFAULT_FAULTS.join(',')}); every one must be answered
  --fault-share X      the share of requests with a trigger (default ${DEFAULTS.faultShare})
  --chaos-header NAME  the trigger header (default ${DEFAULTS.chaosHeader})
  --chaos-secret S     the secret of the app's chaos (default: $KEEL_CHAOS_SECRET)
  --json               print the results as JSON instead of the report
  --out FILE           also write the report to FILE (and the JSON next to it)
  --no-progress        no progress output on stderr
  -h, --help           this text
  -v, --version        the version
`;

const FLAGS = {
  start: { type: 'string' },
  name: { type: 'string' },
  cwd: { type: 'string' },
  ready: { type: 'string' },
  url: { type: 'string', multiple: true },
  'slow-url': { type: 'string', multiple: true },
  shutdowns: { type: 'string' },
  clients: { type: 'string' },
  connections: { type: 'string' },
  warmup: { type: 'string' },
  timeout: { type: 'string' },
  rolling: { type: 'boolean' },
  restarts: { type: 'string' },
  faults: { type: 'string' },
  'fault-share': { type: 'string' },
  'chaos-header': { type: 'string' },
  'chaos-secret': { type: 'string' },
  json: { type: 'boolean' },
  out: { type: 'string' },
  'no-progress': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

function number(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new DrillOptionError(`--${flag}`, 'a number', value);
  return parsed;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** `--faults` may come without a list: then it means the default faults. */
function withFaultsDefault(argv: readonly string[]): string[] {
  const out: string[] = [];
  argv.forEach((arg, index) => {
    out.push(arg);
    const next = argv[index + 1];
    if (arg === '--faults' && (next === undefined || next.startsWith('-'))) out.push(DEFAULT_FAULTS.join(','));
  });
  return out;
}

/** The drill's options from the command line; `help` or `version` when asked for. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { help: true } | { version: true } | { options: DrillOptions; json: boolean; out: string | undefined; progress: boolean } {
  let values;
  try {
    ({ values } = parseArgs({ args: withFaultsDefault(argv), options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new DrillOptionError('command line', 'known flags (see --help)', (error as Error).message);
  }
  if (values.help) return { help: true };
  if (values.version) return { version: true };
  if (values.start === undefined) throw new DrillOptionError('--start', 'the command that starts your app, e.g. --start "node app.js"', undefined);
  const clients = values.clients === undefined ? undefined : list(values.clients);
  for (const client of clients ?? []) if (!(CLIENT_KINDS as readonly string[]).includes(client)) throw new DrillOptionError('--clients', `a list of ${CLIENT_KINDS.join(', ')}`, values.clients);
  const faults = values.faults === undefined ? undefined : list(values.faults);
  const options: DrillOptions = {
    targets: [
      {
        name: values.name ?? 'app',
        command: values.start,
        ...(values.cwd === undefined ? {} : { cwd: path.resolve(values.cwd) }),
        ...(values.ready === undefined ? {} : { readyPath: values.ready }),
        paths: values.url ?? ['/'],
        slowPaths: values['slow-url'] ?? [],
      },
    ],
    shutdowns: number('shutdowns', values.shutdowns),
    clients: clients as ClientKind[] | undefined,
    connections: number('connections', values.connections),
    warmupMs: number('warmup', values.warmup),
    requestTimeoutMs: number('timeout', values.timeout),
    rolling: values.rolling ?? false,
    restarts: number('restarts', values.restarts),
    faults: faults ?? [],
    faultShare: faults === undefined ? 0 : number('fault-share', values['fault-share']),
    chaosHeader: values['chaos-header'],
    chaosSecret: values['chaos-secret'] ?? (env.KEEL_CHAOS_SECRET || undefined),
    subject: values.name ?? 'the app',
  };
  return { options, json: values.json ?? false, out: values.out === undefined ? undefined : path.resolve(values.out), progress: !values['no-progress'] };
}

/** Progress on stderr: a bar redrawn in place on a terminal, one line per finished run elsewhere. */
function progressWriter(stream: NodeJS.WriteStream): (event: DrillProgress) => void {
  const width = 24;
  return (event) => {
    const label = `${event.part} ${event.target} (${event.client})`;
    if (stream.isTTY) {
      const filled = Math.round((event.done / Math.max(1, event.total)) * width);
      stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${event.done}/${event.total} ${label}${event.summary ? `: ${event.summary}` : ''}`);
      if (event.done === event.total && event.summary !== undefined) stream.write('\n');
    } else if (event.summary !== undefined) {
      stream.write(`[keel-drill] ${event.done}/${event.total} ${label}: ${event.summary}\n`);
    }
  };
}

/** Runs the command line; resolves with the exit code: 0 nothing lost, 1 something lost (or a run failed), 2 a usage error. */
export async function main(argv: readonly string[], io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream } = process): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    io.stderr.write(`keel-drill: ${(error as Error).message}\nRun keel-drill --help for the options.\n`);
    return 2;
  }
  if ('help' in parsed) {
    io.stdout.write(HELP);
    return 0;
  }
  if ('version' in parsed) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    io.stdout.write(`${(require('../package.json') as { version: string }).version}\n`);
    return 0;
  }
  const { options, json, out, progress } = parsed;
  let results;
  try {
    results = await runDrill({ ...options, ...(progress ? { onProgress: progressWriter(io.stderr) } : {}) });
  } catch (error) {
    io.stderr.write(`keel-drill: ${isDrillOptionError(error) ? error.message : (error as Error).stack}\n`);
    return 2;
  }
  const report = markdown(results);
  if (out !== undefined) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, report);
    fs.writeFileSync(`${out.replace(/\.md$/, '')}.json`, JSON.stringify(results, null, 2));
  }
  io.stdout.write(json ? `${JSON.stringify(results, null, 2)}\n` : `${report}\n`);
  return results.failures!.length === 0 ? 0 : 1;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
