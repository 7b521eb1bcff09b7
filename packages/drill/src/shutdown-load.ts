import { createClient, type ClientKind, type Outcome, type SendResult } from './clients';
import { freePort, startTarget, type TargetSpec } from './target';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = ([min, max]: readonly [number, number]) => min + Math.floor(Math.random() * (max - min + 1));

/** The load of one shutdown: who sends what, how often, and for how long before the signal. */
export interface LoadOptions {
  /** The client. */
  client?: ClientKind;
  /** HTTPS instead of HTTP (certificates are not checked: loopback only). */
  tls?: boolean;
  /** Concurrent connections, each sending one request after another. */
  connections?: number;
  /** The pause between two requests of a connection, ms, drawn from `[min, max]`. */
  thinkMs?: [number, number];
  /** The share of requests sent to a slow path. */
  slowShare?: number;
  /** How long a slow request asks to take (`{ms}` in its path), ms, drawn from `[min, max]`. */
  slowMs?: [number, number];
  /** Paths of the fast requests; `{id}` becomes the request's ID (then checked in the body), `{ms}` 0. */
  paths?: readonly string[];
  /** Paths of the slow requests; `{ms}` becomes the requested duration. */
  slowPaths?: readonly string[];
  /** Load before the signal, ms. */
  warmupMs?: number;
  /** Up to this much more load before the signal, at random, ms. */
  signalJitterMs?: number;
  /** A request with no answer after this long is lost, ms. */
  requestTimeoutMs?: number;
  /** The share of requests that carry a chaos trigger naming one of `faults`. */
  faultShare?: number;
  /** The faults the triggers name (`@keel/chaos` faults). */
  faults?: readonly string[];
  /** The trigger header. */
  chaosHeader?: string;
  /** The secret the trigger carries, when the app's chaos has one. */
  chaosSecret?: string | undefined;
}

/** One shutdown under load: the app to start, the load, and the signal. */
export interface ShutdownLoadOptions extends LoadOptions, TargetSpec {
  /** The signal sent after the warm-up. */
  signal?: NodeJS.Signals;
}

/** A request that failed, with its timing around the signal. */
export interface FailedRequest {
  readonly id: string;
  readonly ms: number;
  readonly code: string;
  readonly fault?: string;
  readonly startedAfterSignalMs: number;
  readonly endedAfterSignalMs: number;
}

/** What one shutdown under load came to. */
export interface ShutdownLoadResult {
  readonly client: ClientKind;
  readonly tls: boolean;
  readonly counts: { readonly total: number } & Readonly<Record<Outcome, number>>;
  /** Requests with a chaos trigger that reached the app, those answered in full (any status), those the app says it injected, and the count per fault. A faulted request with no answer is counted lost. */
  readonly faults: { readonly sent: number; readonly answered: number; readonly injected: number; readonly byFault: Readonly<Record<string, number>> };
  readonly lost: readonly FailedRequest[];
  readonly resetUnaccepted: readonly FailedRequest[];
  readonly errorStatuses: ReadonlyArray<{ id: string; code: string }>;
  readonly inFlightAtSignal: number;
  readonly slowInFlightAtSignal: number;
  readonly slowInFlightCompleted: number;
  readonly completedAfterSignal: number;
  readonly longestRequestMs: number;
  readonly signalAt: number;
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  readonly signalToExitMs: number;
  readonly shutdownMs: number | undefined;
  readonly durationMs: number;
  /** The app's stdout lines, JSON-parsed where they are JSON, with `atMs` from the signal. */
  readonly lines: readonly any[];
  readonly stderr: string;
}

/** The defaults of one shutdown under load (those of `@keel/drain`'s load tests). */
export const LOAD_DEFAULTS = Object.freeze({
  nodePath: process.execPath as string,
  env: Object.freeze({}) as NodeJS.ProcessEnv,
  client: 'agent' as ClientKind,
  tls: false as boolean,
  connections: 20 as number,
  thinkMs: [15, 45] as [number, number],
  slowShare: 0.1 as number,
  slowMs: [300, 800] as [number, number],
  paths: Object.freeze(['/work?id={id}&ms=0']) as readonly string[],
  slowPaths: Object.freeze(['/work?id={id}&ms={ms}']) as readonly string[],
  warmupMs: 400 as number,
  signalJitterMs: 100 as number,
  requestTimeoutMs: 6000 as number,
  startTimeoutMs: 10_000 as number,
  signal: 'SIGTERM' as NodeJS.Signals,
  faultShare: 0 as number,
  faults: Object.freeze([]) as readonly string[],
  chaosHeader: 'x-keel-chaos' as string,
  chaosSecret: undefined as string | undefined,
});

/** Fills `{id}` and `{ms}` in a path template. */
export function fillPath(template: string, id: string, ms: number): string {
  return template.replaceAll('{id}', encodeURIComponent(id)).replaceAll('{ms}', String(ms));
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

/** One request of a load, as it went. */
export interface RequestRecord {
  id: string;
  ms: number;
  slow: boolean;
  fault: string | undefined;
  startedAt: number;
  endedAt: number | undefined;
  outcome: Outcome | undefined;
  code: string | undefined;
  localPort: number | undefined;
  injected: string | undefined;
}

/** The next request of a load: its path, ID and trigger header, recorded in `requests`. */
export function requestMaker(
  options: Required<Pick<LoadOptions, 'paths' | 'slowPaths' | 'slowShare' | 'slowMs' | 'faults' | 'faultShare' | 'chaosHeader'>> & { chaosSecret?: string | undefined },
  requests: RequestRecord[]): () => { record: RequestRecord; path: string; headers: Record<string, string> } {
  let nextId = 0;
  const slowPaths = options.slowPaths.length > 0 ? options.slowPaths : undefined;
  return () => {
    const slow = slowPaths !== undefined && Math.random() < options.slowShare;
    const ms = slow ? between(options.slowMs) : 0;
    const id = `${process.pid}-${nextId++}`;
    const fault = options.faults.length > 0 && Math.random() < options.faultShare ? pick(options.faults) : undefined;
    const headers: Record<string, string> = {};
    if (fault !== undefined) headers[options.chaosHeader] = options.chaosSecret === undefined ? fault : `${fault}; secret=${options.chaosSecret}`;
    const record: RequestRecord = { id, ms, slow, fault, startedAt: Date.now(), endedAt: undefined, outcome: undefined, code: undefined, localPort: undefined, injected: undefined };
    requests.push(record);
    return { record, path: fillPath(slow ? pick(slowPaths!) : pick(options.paths), id, ms), headers };
  };
}

/** Records how a request ended; a faulted request answered in full, whatever its status, is `faultAnswered`. */
export function settle(record: RequestRecord, result: SendResult): void {
  record.endedAt = Date.now();
  record.outcome = record.fault !== undefined && (result.outcome === 'completed' || result.outcome === 'errorStatus') ? 'faultAnswered' : result.outcome;
  record.code = result.code;
  record.localPort = result.localPort;
  record.injected = result.injected;
}

/** Counts of each outcome, and of the faults sent and answered. */
export function tallies(requests: readonly RequestRecord[]): Pick<ShutdownLoadResult, 'counts' | 'faults'> {
  const counts = { total: requests.length, completed: 0, errorStatus: 0, refused: 0, lost: 0, resetUnaccepted: 0, faultAnswered: 0 };
  const byFault: Record<string, number> = {};
  let sent = 0;
  let injected = 0;
  for (const request of requests) {
    if (request.outcome !== undefined) counts[request.outcome]++;
    // A refused request never left the client: it carried no fault to the app.
    if (request.fault !== undefined && request.outcome !== 'refused') {
      sent++;
      byFault[request.fault] = (byFault[request.fault] ?? 0) + 1;
      if (request.injected !== undefined) injected++;
    }
  }
  return { counts, faults: { sent, answered: counts.faultAnswered, injected, byFault } };
}

/**
 * One shutdown under load: starts the app, sends keep-alive load, sends the
 * signal after the warm-up, keeps the load on until the process has exited,
 * and classifies every request.
 */
export async function runShutdownLoad(input: ShutdownLoadOptions): Promise<ShutdownLoadResult> {
  const options = { ...LOAD_DEFAULTS, ...input } as ShutdownLoadOptions & typeof LOAD_DEFAULTS;
  if (!options.fixture && !options.command) throw new TypeError('runShutdownLoad: a fixture or a command is required');
  // A command gets a free port as PORT; a fixture may pick its own and print it.
  const fixedPort = options.port ?? (options.command ? await freePort() : undefined);
  const server = startTarget(options.fixture ? { ...options, env: { NODE_ENV: 'test', ...options.env } } : options, fixedPort);
  let port: number;
  try {
    port = await server.ready;
  } catch (error) {
    server.kill('SIGKILL');
    await server.exited;
    throw error;
  }
  const client = createClient(options.client, { port, tls: options.tls, connections: options.connections, requestTimeoutMs: options.requestTimeoutMs });
  const requests: RequestRecord[] = [];
  const next = requestMaker(options, requests);
  const ended = { at: undefined as number | undefined };
  let stop = false;

  async function worker(): Promise<void> {
    while (!stop) {
      const { record, path, headers } = next();
      settle(record, await client.send(path, record.id, headers));
      // After the exit, new requests can only be refused: stop adding them.
      if (ended.at !== undefined) break;
      await sleep(between(options.thinkMs));
    }
  }

  const workers = Array.from({ length: options.connections }, () => worker());
  await sleep(options.warmupMs + between([0, options.signalJitterMs]));
  const signalAt = Date.now();
  const inFlightAtSignal = requests.filter((request) => request.endedAt === undefined);
  server.kill(options.signal);
  const exit = await server.exited;
  ended.at = exit.at;
  stop = true;
  await Promise.all(workers);
  await client.close();

  const accepted = acceptedPorts(server.lines);
  if (accepted !== undefined) {
    for (const request of requests) {
      if (request.outcome === 'lost' && request.localPort !== undefined && !accepted.has(request.localPort)) request.outcome = 'resetUnaccepted';
    }
  }
  const timing = ({ id, ms, code, fault, startedAt, endedAt }: RequestRecord): FailedRequest => ({
    id,
    ms,
    code: code ?? 'UNKNOWN',
    ...(fault === undefined ? {} : { fault }),
    startedAfterSignalMs: startedAt - signalAt,
    endedAfterSignalMs: (endedAt ?? startedAt) - signalAt,
  });
  const slowInFlight = inFlightAtSignal.filter((request) => request.slow && request.fault === undefined);
  return {
    client: options.client,
    tls: options.tls,
    ...tallies(requests),
    lost: requests.filter((request) => request.outcome === 'lost').map(timing),
    resetUnaccepted: requests.filter((request) => request.outcome === 'resetUnaccepted').map(timing),
    errorStatuses: requests.filter((request) => request.outcome === 'errorStatus').map(({ id, code }) => ({ id, code: code ?? '' })),
    inFlightAtSignal: inFlightAtSignal.length,
    slowInFlightAtSignal: slowInFlight.length,
    slowInFlightCompleted: slowInFlight.filter((request) => request.outcome === 'completed').length,
    completedAfterSignal: requests.filter((request) => request.outcome === 'completed' && request.endedAt! >= signalAt).length,
    longestRequestMs: Math.max(0, ...requests.filter((request) => request.outcome === 'completed').map((request) => request.ms)),
    signalAt,
    exitCode: exit.code,
    exitSignal: exit.signal,
    signalToExitMs: exit.at - signalAt,
    shutdownMs: shutdownMs(server.lines),
    durationMs: Date.now() - server.startedAt,
    lines: server.lines.map(({ at, line }) => (line && typeof line === 'object' ? { ...line, atMs: at - signalAt } : line)),
    stderr: server.stderr(),
  };
}

/** The client ports the app says it accepted (a `{"event":"accepted-ports"}` line), or undefined. */
function acceptedPorts(lines: ReadonlyArray<{ line: unknown }>): Set<number> | undefined {
  const found = lines.find(({ line }) => (line as { event?: unknown } | null)?.event === 'accepted-ports');
  return found === undefined ? undefined : new Set((found.line as { ports: number[] }).ports);
}

/** From the app's `signal` line to its `exit` line, when it prints them (ms). */
function shutdownMs(lines: ReadonlyArray<{ line: unknown }>): number | undefined {
  const find = (event: string) => lines.find(({ line }) => (line as { event?: unknown } | null)?.event === event)?.line as { time: number } | undefined;
  const signal = find('signal');
  const exit = find('exit');
  return signal && exit ? exit.time - signal.time : undefined;
}

/** The results of several shutdowns, added up. */
export interface ShutdownLoadSummary {
  readonly shutdowns: number;
  readonly requests: number;
  readonly completed: number;
  readonly errorStatus: number;
  readonly refused: number;
  readonly lost: number;
  readonly resetUnaccepted: number;
  readonly faultsSent: number;
  readonly faultsAnswered: number;
  readonly slowInFlightAtSignal: number;
  readonly slowInFlightCompleted: number;
  readonly maxSignalToExitMs: number;
  readonly maxShutdownMs: number;
  readonly exitCodes: Readonly<Record<string, number>>;
}

/** Adds up the results of several shutdowns. */
export function summarize(results: readonly ShutdownLoadResult[]): ShutdownLoadSummary {
  const total = { shutdowns: results.length, requests: 0, completed: 0, errorStatus: 0, refused: 0, lost: 0, resetUnaccepted: 0, faultsSent: 0, faultsAnswered: 0, slowInFlightAtSignal: 0, slowInFlightCompleted: 0, maxSignalToExitMs: 0, maxShutdownMs: 0, exitCodes: {} as Record<string, number> };
  for (const result of results) {
    total.requests += result.counts.total;
    total.completed += result.counts.completed;
    total.errorStatus += result.counts.errorStatus;
    total.refused += result.counts.refused;
    total.lost += result.counts.lost;
    total.resetUnaccepted += result.counts.resetUnaccepted;
    total.faultsSent += result.faults?.sent ?? 0;
    total.faultsAnswered += result.faults?.answered ?? 0;
    total.slowInFlightAtSignal += result.slowInFlightAtSignal;
    total.slowInFlightCompleted += result.slowInFlightCompleted;
    total.maxSignalToExitMs = Math.max(total.maxSignalToExitMs, result.signalToExitMs);
    total.maxShutdownMs = Math.max(total.maxShutdownMs, result.shutdownMs ?? 0);
    const exit = String(result.exitCode);
    total.exitCodes[exit] = (total.exitCodes[exit] ?? 0) + 1;
  }
  return total;
}

/** Runs `count` shutdowns, at most `parallel` at a time. */
export async function runShutdowns(count: number, parallel: number, options: ShutdownLoadOptions): Promise<ShutdownLoadResult[]> {
  const results: ShutdownLoadResult[] = [];
  let next = 0;
  async function lane(): Promise<void> {
    while (next < count) {
      next++;
      results.push(await runShutdownLoad(options));
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, () => lane()));
  return results;
}
