import { createClient, type ClientKind, type Outcome } from './clients';
import { haproxyConfig, startHaproxy, waitForState, type Haproxy, type HealthCheckTiming, type RunningHaproxy } from './haproxy';
import { LOAD_DEFAULTS, requestMaker, settle, tallies, type LoadOptions, type RequestRecord } from './shutdown-load';
import { freePort, startTarget, type RunningTarget, type TargetSpec } from './target';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = ([min, max]: readonly [number, number]) => min + Math.floor(Math.random() * (max - min + 1));

/** Options of {@link runRollingRestart}. */
export interface RollingRestartOptions extends LoadOptions, TargetSpec {
  /** The target's name in the results. */
  name: string;
  /** haproxy's binary and version ({@link findHaproxy}). */
  haproxy: Haproxy;
  /** Rounds of restarts: each restarts both instances in turn. */
  restarts?: number;
  /** haproxy's health check timing. */
  check?: Partial<HealthCheckTiming>;
  /** Load after the last restart, ms. */
  tailMs?: number;
}

/** One restart of one instance. */
export interface RestartRecord {
  instance: string;
  signalAtMs: number;
  exitCode?: number | null;
  exitSignal?: NodeJS.Signals | null;
  signalToExitMs?: number;
  signalToUpMs?: number;
}

/** What a rolling restart came to. */
export interface RollingRestartResult {
  readonly server: string;
  readonly client: ClientKind;
  readonly restarts: readonly RestartRecord[];
  readonly counts: { readonly total: number } & Readonly<Record<Outcome, number>>;
  readonly faults: ReturnType<typeof tallies>['faults'];
  readonly failed: number;
  readonly byCode: Readonly<Record<string, number>>;
  readonly examples: Readonly<Record<string, string>>;
  readonly failures: ReadonlyArray<{ id: string; ms: number; outcome: Outcome | undefined; code: string | undefined; startedAtMs: number; endedAtMs: number }>;
  readonly requestsPerSecond: number;
  readonly haproxyEvents: readonly string[];
  readonly haproxyVersion: string;
}

/** The defaults of a rolling restart. */
export const ROLLING_DEFAULTS = Object.freeze({
  restarts: 1,
  // haproxy marks a server down after `fall` failed checks `interMs` apart.
  check: Object.freeze({ interMs: 200, fall: 2, rise: 1 }),
  tailMs: 500,
});

/**
 * A rolling restart: two instances of the app behind haproxy, load through
 * haproxy, each instance restarted in turn (SIGTERM, wait for its exit, start
 * its replacement on the same port, wait until haproxy's health check sees it
 * UP). A client-visible failure is any answer but a completed one.
 */
export async function runRollingRestart(input: RollingRestartOptions): Promise<RollingRestartResult> {
  const options = { ...LOAD_DEFAULTS, ...ROLLING_DEFAULTS, ...input, check: { ...ROLLING_DEFAULTS.check, ...input.check } };
  const [frontPort, statsPort, portA, portB] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const backends = [
    { name: 'a', port: portA! },
    { name: 'b', port: portB! },
  ];
  const instances: Record<string, RunningTarget> = {};
  const start = async (port: number): Promise<RunningTarget> => {
    const instance = startTarget({ ...options, port }, port);
    await instance.ready;
    return instance;
  };
  let proxy: RunningHaproxy | undefined;
  const requests: RequestRecord[] = [];
  const restarts: RestartRecord[] = [];
  let stop = false;
  let workers: Array<Promise<void>> = [];
  let client: ReturnType<typeof createClient> | undefined;
  try {
    for (const backend of backends) instances[backend.name] = await start(backend.port);
    const checkPath = options.readyPath ?? options.probePath ?? '/';
    proxy = await startHaproxy({ binary: options.haproxy.binary, cfg: haproxyConfig({ frontPort: frontPort!, statsPort: statsPort!, servers: backends, check: options.check, checkPath }), frontPort: frontPort! });
    for (const backend of backends) await waitForState(statsPort!, backend.name, 'UP');

    client = createClient(options.client, { port: frontPort!, connections: options.connections, requestTimeoutMs: options.requestTimeoutMs });
    const next = requestMaker(options, requests);
    const sender = client;
    const worker = async () => {
      while (!stop) {
        const { record, path, headers } = next();
        settle(record, await sender.send(path, record.id, headers));
        await sleep(between(options.thinkMs));
      }
    };
    const loadStartedAt = Date.now();
    workers = Array.from({ length: options.connections }, () => worker());
    await sleep(options.warmupMs);

    for (let round = 0; round < options.restarts; round++) {
      for (const backend of backends) {
        const old = instances[backend.name]!;
        const signalAt = Date.now();
        const restart: RestartRecord = { instance: backend.name, signalAtMs: signalAt - loadStartedAt };
        restarts.push(restart);
        old.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const exit = await Promise.race([old.exited, new Promise<null>((resolve) => (timer = setTimeout(resolve, 60_000, null)))]);
        clearTimeout(timer);
        if (exit === null) {
          old.kill('SIGKILL');
          throw new Error(`${options.name} instance ${backend.name} did not exit within 60 s of SIGTERM`);
        }
        instances[backend.name] = await start(backend.port);
        await waitForState(statsPort!, backend.name, 'UP');
        Object.assign(restart, { exitCode: exit.code, exitSignal: exit.signal, signalToExitMs: exit.at - signalAt, signalToUpMs: Date.now() - signalAt });
      }
    }
    await sleep(options.tailMs);
    stop = true;
    await Promise.all(workers);
    const loadMs = Date.now() - loadStartedAt;

    const failures = requests.filter((request) => request.outcome !== 'completed' && request.outcome !== 'faultAnswered');
    const byCode: Record<string, number> = {};
    for (const failure of failures) byCode[`${failure.outcome}:${failure.code}`] = (byCode[`${failure.outcome}:${failure.code}`] ?? 0) + 1;
    return {
      server: options.name,
      client: options.client,
      restarts,
      ...tallies(requests),
      failed: failures.length,
      byCode,
      examples: {},
      failures: failures.slice(0, 50).map(({ id, ms, outcome, code, startedAt, endedAt }) => ({ id, ms, outcome, code, startedAtMs: startedAt - loadStartedAt, endedAtMs: (endedAt ?? startedAt) - loadStartedAt })),
      requestsPerSecond: requests.length / (loadMs / 1000),
      haproxyEvents: proxy
        .output()
        .split('\n')
        .filter((line) => /Server app\//.test(line)),
      haproxyVersion: options.haproxy.version,
    };
  } finally {
    stop = true;
    await Promise.all(workers);
    if (client) await client.close();
    for (const instance of Object.values(instances)) {
      instance.kill('SIGKILL');
      await instance.exited;
    }
    if (proxy) await proxy.stop();
  }
}
