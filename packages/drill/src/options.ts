import { CLIENT_KINDS, type ClientKind } from './clients';
import { DrillOptionError } from './errors';

/** The faults `--faults` may name: those an app can answer (`@keel/chaos` also has `reset`, `cut-body` and `timer-throw`, which lose or end by design). */
export const DRILL_FAULTS = Object.freeze(['latency', 'error', 'throw', 'reject', 'unhandled-rejection', 'slow-body', 'hang'] as const);

/** The faults `--faults` names when given no list. */
export const DEFAULT_FAULTS = Object.freeze(['latency', 'error', 'throw', 'reject', 'unhandled-rejection', 'slow-body'] as const);

/** One app under drill. */
export interface DrillTarget {
  /** Its name in the results. */
  name: string;
  /** Its title in the report; the name when unset. */
  title?: string;
  /** The shell command that starts it, e.g. `node app.js`; it gets its port as `PORT`. */
  command?: string;
  /** Or a Node program that prints `{"event":"listening","port":N}` (it gets `PORT` too). */
  fixture?: string;
  /** The working directory of the command. */
  cwd?: string;
  /** Environment added to the drill's own (`NODE_ENV` is `production` unless set here). */
  env?: NodeJS.ProcessEnv;
  /** A path answering 2xx once the app is ready (and while it wants traffic, for haproxy). */
  readyPath?: string;
  /** Paths of the fast requests (`{id}`: the request's ID, then checked in the body). */
  paths?: readonly string[];
  /** Paths of the slow requests (`{ms}`: the requested duration). */
  slowPaths?: readonly string[];
  /** Environment added for the rolling restart only, e.g. a deregistration delay longer than haproxy's health check. */
  rollingEnv?: NodeJS.ProcessEnv;
  /** Whether its losses fail the drill. @defaultValue `true` */
  judged?: boolean;
  /** SIGTERMs per client for this target; the drill's `shutdowns` when unset. */
  shutdowns?: number;
  /** Whether it also runs the rolling restart when `rolling` is on. @defaultValue `true` */
  rolling?: boolean;
}

/** Options of {@link runDrill}. Durations are ms. */
export interface DrillOptions {
  /** The apps to drill. */
  targets: readonly DrillTarget[];
  /**
   * SIGTERMs per target and client, each of a fresh start of the app.
   * @defaultValue `3`
   */
  shutdowns?: number;
  /**
   * The clients, one after the other.
   * @defaultValue `['agent', 'undici']`
   */
  clients?: readonly ClientKind[];
  /**
   * Keep-alive connections per client, each sending requests one after another.
   * @defaultValue `20`
   */
  connections?: number;
  /**
   * The pause between two requests of a connection, ms, `[min, max]`.
   * @defaultValue `[5, 15]`
   */
  thinkMs?: readonly [number, number];
  /**
   * The share of requests sent to a slow path.
   * @defaultValue `0.05`
   */
  slowShare?: number;
  /**
   * How long a slow request asks to take (`{ms}`), `[min, max]` ms.
   * @defaultValue `[300, 800]`
   */
  slowMs?: readonly [number, number];
  /**
   * Load before SIGTERM, ms.
   * @defaultValue `1000`
   */
  warmupMs?: number;
  /**
   * A request without an answer after this long is lost, ms.
   * @defaultValue `8000`
   */
  requestTimeoutMs?: number;
  /**
   * How long the app has to become ready, ms.
   * @defaultValue `15000`
   */
  startTimeoutMs?: number;
  /**
   * Whether to run the rolling restart behind haproxy as well.
   * @defaultValue `false`
   */
  rolling?: boolean;
  /**
   * Rounds of the rolling restart (each restarts both instances) per target and client.
   * @defaultValue `1`
   */
  restarts?: number;
  /**
   * The clients of the rolling restart; the first of `clients` when unset.
   * @defaultValue `undefined`
   */
  rollingClients?: readonly ClientKind[];
  /**
   * The faults the chaos triggers name, when `faultShare` is above 0.
   * @defaultValue `[]`
   */
  faults?: readonly string[];
  /**
   * The share of requests that carry a chaos trigger.
   * @defaultValue `0.1`
   */
  faultShare?: number;
  /**
   * The trigger header of the app's `@keel/chaos`.
   * @defaultValue `'x-keel-chaos'`
   */
  chaosHeader?: string;
  /**
   * The secret of the app's `@keel/chaos`, when it has one.
   * @defaultValue `undefined`
   */
  chaosSecret?: string;
  /**
   * Who the verdict speaks of.
   * @defaultValue `'the app'`
   */
  subject?: string;
  /**
   * Called as each run starts and ends, for progress output.
   * @defaultValue `undefined`
   */
  onProgress?: (event: DrillProgress) => void;
}

/** A step of a drill, passed to `onProgress`. */
export interface DrillProgress {
  readonly done: number;
  readonly total: number;
  readonly part: 'single instance' | 'rolling restart';
  readonly target: string;
  readonly client: ClientKind;
  /** Set once the run ended: a one-line summary. */
  readonly summary?: string;
}

/** {@link DrillOptions} after defaults and checks. */
export type ResolvedDrillOptions = Readonly<Required<Omit<DrillOptions, 'chaosSecret' | 'onProgress' | 'rollingClients'>>> & {
  readonly chaosSecret: string | undefined;
  readonly onProgress: ((event: DrillProgress) => void) | undefined;
  readonly rollingClients: readonly ClientKind[];
};

/** The one source of {@link DrillOptions} defaults. */
export const DEFAULTS = Object.freeze({
  shutdowns: 3,
  clients: Object.freeze(['agent', 'undici']) as readonly ClientKind[],
  connections: 20,
  thinkMs: Object.freeze([5, 15]) as readonly [number, number],
  slowShare: 0.05,
  slowMs: Object.freeze([300, 800]) as readonly [number, number],
  warmupMs: 1000,
  requestTimeoutMs: 8000,
  startTimeoutMs: 15_000,
  rolling: false,
  restarts: 1,
  rollingClients: undefined,
  faults: Object.freeze([]) as readonly string[],
  faultShare: 0.1,
  chaosHeader: 'x-keel-chaos',
  chaosSecret: undefined,
  subject: 'the app',
  onProgress: undefined,
});

const fail = (option: string, expected: string, received: unknown): never => {
  throw new DrillOptionError(option, expected, received);
};

function integer(option: string, value: unknown, min: number, max: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : fail(option, `an integer from ${min} to ${max}`, value);
}

function share(option: string, value: unknown): number {
  return typeof value === 'number' && value >= 0 && value <= 1 ? value : fail(option, 'a number from 0 to 1', value);
}

function range(option: string, value: unknown, max: number): readonly [number, number] {
  const ok = Array.isArray(value) && value.length === 2 && value.every((item) => typeof item === 'number' && Number.isInteger(item) && item >= 0 && item <= max) && value[0] <= value[1];
  return ok ? (Object.freeze([...value]) as unknown as readonly [number, number]) : fail(option, `[min, max], whole numbers from 0 to ${max}, min <= max`, value);
}

function path(option: string, value: unknown): string {
  return typeof value === 'string' && /^\/[^\s#]*$/.test(value) ? value : fail(option, "a path starting with '/' (no spaces)", value);
}

function paths(option: string, value: unknown, allowEmpty: boolean): readonly string[] {
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0)) fail(option, `an array of paths${allowEmpty ? '' : ' (at least one)'}`, value);
  return Object.freeze((value as unknown[]).map((item, index) => path(`${option}[${index}]`, item)));
}

function clients(option: string, value: unknown): readonly ClientKind[] {
  const ok = Array.isArray(value) && value.length > 0 && value.every((item) => (CLIENT_KINDS as readonly unknown[]).includes(item));
  return ok ? Object.freeze([...(value as ClientKind[])]) : fail(option, `a non-empty array of ${CLIENT_KINDS.join(', ')}`, value);
}

const TARGET_KEYS = ['name', 'title', 'command', 'fixture', 'cwd', 'env', 'rollingEnv', 'readyPath', 'paths', 'slowPaths', 'judged', 'shutdowns', 'rolling'];

function target(value: unknown, index: number): Readonly<DrillTarget> {
  const at = `targets[${index}]`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(at, 'an object with a name and a command or fixture', value);
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) if (!TARGET_KEYS.includes(key)) fail(`${at}.${key}`, `one of ${TARGET_KEYS.join(', ')}`, 'an unknown option');
  if (typeof input.name !== 'string' || !/^[\w.-]{1,64}$/.test(input.name)) fail(`${at}.name`, 'a name of letters, digits, . _ -', input.name);
  if ((input.command === undefined) === (input.fixture === undefined)) fail(`${at}.command`, 'a command, or else a fixture (exactly one)', input.command);
  // One command, exec'd by the shell: a list (`a && b`, `a; b`, `a | b`) would put a shell between the signal and the app.
  if (input.command !== undefined && (typeof input.command !== 'string' || input.command.trim() === '' || /[;&|\n]/.test(input.command))) {
    fail(`${at}.command`, "one command without ';', '&' or '|' (run a list from a script, or with npm start)", input.command);
  }
  if (input.fixture !== undefined && typeof input.fixture !== 'string') fail(`${at}.fixture`, 'the path of a Node program', input.fixture);
  if (input.readyPath !== undefined) path(`${at}.readyPath`, input.readyPath);
  if (input.shutdowns !== undefined) integer(`${at}.shutdowns`, input.shutdowns, 0, 1000);
  for (const key of ['judged', 'rolling']) if (input[key] !== undefined && typeof input[key] !== 'boolean') fail(`${at}.${key}`, 'a boolean', input[key]);
  return Object.freeze({
    ...(input as unknown as DrillTarget),
    paths: paths(`${at}.paths`, input.paths ?? ['/'], false),
    slowPaths: paths(`${at}.slowPaths`, input.slowPaths ?? [], true),
  });
}

const OPTION_KEYS = ['targets', ...Object.keys(DEFAULTS)];

/** Checks the options of {@link runDrill} and fills in defaults; throws a DrillOptionError on any bad option. */
export function resolveOptions(input: DrillOptions): ResolvedDrillOptions {
  if (typeof input !== 'object' || input === null) fail('options', 'an object with targets', input);
  for (const key of Object.keys(input)) if (!OPTION_KEYS.includes(key)) fail(key, `one of the known options (${OPTION_KEYS.join(', ')})`, 'an unknown option');
  const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<DrillOptions>;
  const merged = { ...DEFAULTS, ...given };
  if (!Array.isArray(merged.targets) || merged.targets.length === 0) fail('targets', 'a non-empty array of targets', merged.targets);
  const targets = Object.freeze(merged.targets!.map(target));
  if (new Set(targets.map((t) => t.name)).size !== targets.length) fail('targets', 'targets with different names', merged.targets);
  const faults = merged.faults;
  if (!Array.isArray(faults) || !faults.every((fault) => (DRILL_FAULTS as readonly unknown[]).includes(fault))) fail('faults', `an array of faults from ${DRILL_FAULTS.join(', ')}`, faults);
  if (typeof merged.chaosHeader !== 'string' || !/^[a-z0-9-]+$/i.test(merged.chaosHeader)) fail('chaosHeader', 'a header name', merged.chaosHeader);
  if (merged.chaosSecret !== undefined && (typeof merged.chaosSecret !== 'string' || !/^[\x21-\x7e]+$/.test(merged.chaosSecret) || merged.chaosSecret.includes(';'))) fail('chaosSecret', "printable characters without spaces or ';'", '(not shown)');
  if (typeof merged.subject !== 'string' || merged.subject === '') fail('subject', 'a non-empty string', merged.subject);
  if (typeof merged.rolling !== 'boolean') fail('rolling', 'a boolean', merged.rolling);
  if (merged.onProgress !== undefined && typeof merged.onProgress !== 'function') fail('onProgress', 'a function', merged.onProgress);
  const resolvedClients = clients('clients', merged.clients);
  return Object.freeze({
    ...merged,
    targets,
    shutdowns: integer('shutdowns', merged.shutdowns, 0, 1000),
    clients: resolvedClients,
    connections: integer('connections', merged.connections, 1, 1000),
    thinkMs: range('thinkMs', merged.thinkMs, 60_000),
    slowShare: share('slowShare', merged.slowShare),
    slowMs: range('slowMs', merged.slowMs, 600_000),
    warmupMs: integer('warmupMs', merged.warmupMs, 0, 600_000),
    requestTimeoutMs: integer('requestTimeoutMs', merged.requestTimeoutMs, 1, 600_000),
    startTimeoutMs: integer('startTimeoutMs', merged.startTimeoutMs, 1, 600_000),
    restarts: integer('restarts', merged.restarts, 0, 1000),
    rollingClients: merged.rollingClients === undefined ? Object.freeze([resolvedClients[0]!]) : clients('rollingClients', merged.rollingClients),
    faults: Object.freeze([...faults]),
    faultShare: share('faultShare', merged.faultShare),
    chaosSecret: merged.chaosSecret,
    onProgress: merged.onProgress,
  }) as ResolvedDrillOptions;
}
