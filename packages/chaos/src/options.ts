import { check, InvalidOptionError, parseDuration, resolveOptions as resolve, type Logger, type OptionCheck } from '@keel/lifecycle';

/** Every fault `chaos()` can inject. */
export const CHAOS_FAULTS = Object.freeze([
  'latency',
  'error',
  'throw',
  'reject',
  'timer-throw',
  'unhandled-rejection',
  'hang',
  'reset',
  'cut-body',
  'slow-body',
] as const);

/**
 * A fault: `'latency'` delays the request; `'error'` passes an error with
 * `status` to `next()`; `'throw'` throws synchronously; `'reject'` returns a
 * rejected promise (Express 5 forwards it, Express 4 only with async-guard);
 * `'timer-throw'` throws from a timer (an uncaught exception);
 * `'unhandled-rejection'` rejects a promise nobody awaits; `'hang'` never
 * answers; `'reset'` resets the connection; `'cut-body'` sends half of the
 * app's body, then closes the connection; `'slow-body'` trickles the app's body.
 */
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

/** One rule: which requests get which fault, and the fault's parameters. Durations are ms or `'2s'`-style strings. */
export interface ChaosRule {
  /** The fault this rule injects. */
  fault: ChaosFault;
  /**
   * The rule's name in logs, events and the response header.
   * @defaultValue the fault's name
   */
  name?: string;
  /**
   * The paths it applies to, relative to where `chaos()` is mounted: Express-style
   * (`'/users/:id'`, `'/api/*'`) or a RegExp tested against the path without its query.
   * @defaultValue every path
   */
  path?: string | RegExp;
  /**
   * The methods it applies to, e.g. `['GET', 'POST']`.
   * @defaultValue every method
   */
  methods?: readonly string[];
  /**
   * The share of matching requests injected without a trigger header, from 0 to 1.
   * With 0 the rule fires only when the trigger header names its fault or name.
   * @defaultValue `0`
   */
  probability?: number;
  /**
   * `'latency'`: the delay added; `'slow-body'`: how long the body takes to
   * trickle out; `'timer-throw'`, `'unhandled-rejection'`: how long after the request they fire.
   * @defaultValue `1000` (`10` for `'timer-throw'` and `'unhandled-rejection'`)
   */
  delay?: number | string;
  /**
   * `'latency'`: up to this much more delay, uniformly at random.
   * @defaultValue `0`
   */
  jitter?: number | string;
  /**
   * `'error'`: the status of the error passed to `next()`, 400 to 599.
   * @defaultValue `500`
   */
  status?: number;
  /**
   * `'slow-body'`: how many pieces the body is sent in.
   * @defaultValue `8`
   */
  chunks?: number;
}

/** A {@link ChaosRule} after defaults and checks, durations in ms. */
export interface ResolvedChaosRule {
  readonly fault: ChaosFault;
  readonly name: string;
  readonly path: RegExp | undefined;
  readonly methods: ReadonlySet<string> | undefined;
  readonly probability: number;
  readonly delay: number;
  readonly jitter: number;
  readonly status: number;
  readonly chunks: number;
}

/** Options of {@link chaos}. */
export interface ChaosOptions {
  /**
   * Nothing is injected unless this is true.
   * @defaultValue `false`
   */
  enabled?: boolean;
  /**
   * The rules, tried in order; the first that matches a request injects its fault.
   * @defaultValue `[]`
   */
  rules?: readonly ChaosRule[];
  /**
   * The faults the trigger header may inject on any request, with the fault's
   * default parameters, when no rule for that fault matches it. `[]`: only rules fire.
   * @defaultValue every fault
   */
  triggers?: readonly ChaosFault[];
  /**
   * The request header that names the fault to inject (`latency`, or a rule's
   * name), and carries the secret: `X-Keel-Chaos: latency; secret=...`.
   * @defaultValue `'x-keel-chaos'`
   */
  header?: string;
  /**
   * The response header that names the fault injected.
   * @defaultValue `'x-keel-chaos-injected'`
   */
  responseHeader?: string;
  /**
   * Whether chaos may run under `NODE_ENV=production`. Without it, chaos stays
   * inert there (and says so once in the log), whatever `enabled` says.
   * @defaultValue `false`
   */
  allowInProduction?: boolean;
  /**
   * A secret the trigger header must carry (`secret=...`, compared in constant
   * time), at least 16 characters. Required under `NODE_ENV=production`. When set,
   * a request without it is never injected, by a trigger or by probability.
   * @defaultValue `undefined`
   */
  secret?: string;
  /**
   * Where each injection is logged (one `warn` line).
   * @defaultValue the default lifecycle's logger, else JSON lines on stderr
   */
  logger?: Logger;
  /**
   * The source of randomness for `probability` and `jitter`: returns a number in [0, 1).
   * @defaultValue `Math.random`
   */
  random?: () => number;
}

/** {@link ChaosOptions} after defaults and checks. */
export interface ResolvedChaosOptions {
  readonly enabled: boolean;
  readonly rules: readonly ResolvedChaosRule[];
  readonly triggers: readonly ChaosFault[];
  readonly header: string;
  readonly responseHeader: string;
  readonly allowInProduction: boolean;
  readonly secret: string | undefined;
  readonly logger: Logger | undefined;
  readonly random: (() => number) | undefined;
}

/** The one source of {@link ChaosOptions} defaults. */
export const DEFAULTS: ResolvedChaosOptions = Object.freeze({
  enabled: false,
  rules: Object.freeze([]) as readonly ResolvedChaosRule[],
  triggers: CHAOS_FAULTS,
  header: 'x-keel-chaos',
  responseHeader: 'x-keel-chaos-injected',
  allowInProduction: false,
  secret: undefined,
  logger: undefined,
  random: undefined,
});

/** The parameters a fault gets when its rule does not set them. */
export const FAULT_DEFAULTS = Object.freeze({ delay: 1000, timerDelay: 10, jitter: 0, status: 500, chunks: 8 });

const PACKAGE = '@keel/chaos';
const MAX_DELAY = 10 * 60_000;
/** Shorter secrets are guessable; the check is the only gate in production. */
export const MIN_SECRET_LENGTH = 16;
const TOKEN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/i;

function fail(option: string, expected: string, received: unknown): never {
  throw new InvalidOptionError(PACKAGE, option, expected, received);
}

/** An Express-style path pattern as a RegExp anchored on the whole path. */
export function pathPattern(pattern: string): RegExp {
  const source = pattern
    .split(/(:[A-Za-z_][A-Za-z0-9_]*|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}/?$`, 'i');
}

function duration(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  return ms !== undefined && ms >= 0 && ms <= MAX_DELAY ? ms : fail(option, `a duration from 0 ms to ${MAX_DELAY} ms (a number of ms, or a string like '2s')`, value);
}

const RULE_KEYS = ['fault', 'name', 'path', 'methods', 'probability', 'delay', 'jitter', 'status', 'chunks'];

function resolveRule(value: unknown, index: number): ResolvedChaosRule {
  const at = `rules[${index}]`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(at, 'an object with at least a fault', value);
  const rule = value as Record<string, unknown>;
  for (const key of Object.keys(rule)) if (!RULE_KEYS.includes(key)) fail(`${at}.${key}`, `one of the rule's options (${RULE_KEYS.join(', ')})`, 'an unknown option');
  const fault = rule.fault as ChaosFault;
  if (!CHAOS_FAULTS.includes(fault)) fail(`${at}.fault`, `one of ${CHAOS_FAULTS.join(', ')}`, rule.fault);
  const name = rule.name === undefined ? fault : rule.name;
  if (typeof name !== 'string' || !TOKEN.test(name) || name.length > 64) fail(`${at}.name`, 'a name of up to 64 letters, digits and - _ .', rule.name);
  let path: RegExp | undefined;
  if (rule.path instanceof RegExp) path = rule.path;
  else if (typeof rule.path === 'string' && rule.path.startsWith('/')) path = pathPattern(rule.path);
  else if (rule.path !== undefined) fail(`${at}.path`, "a path pattern starting with '/' or a RegExp", rule.path);
  let methods: Set<string> | undefined;
  if (rule.methods !== undefined) {
    if (!Array.isArray(rule.methods) || rule.methods.length === 0 || !rule.methods.every((method) => typeof method === 'string' && TOKEN.test(method))) {
      fail(`${at}.methods`, "a non-empty array of method names, e.g. ['GET']", rule.methods);
    }
    methods = new Set((rule.methods as string[]).map((method) => method.toUpperCase()));
  }
  const probability = rule.probability ?? 0;
  if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) fail(`${at}.probability`, 'a number from 0 to 1', rule.probability);
  const status = rule.status ?? FAULT_DEFAULTS.status;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) fail(`${at}.status`, 'an integer from 400 to 599', rule.status);
  const chunks = rule.chunks ?? FAULT_DEFAULTS.chunks;
  if (typeof chunks !== 'number' || !Number.isInteger(chunks) || chunks < 2 || chunks > 1000) fail(`${at}.chunks`, 'an integer from 2 to 1000', rule.chunks);
  const delayDefault = fault === 'timer-throw' || fault === 'unhandled-rejection' ? FAULT_DEFAULTS.timerDelay : FAULT_DEFAULTS.delay;
  return Object.freeze({
    fault,
    name,
    path,
    methods,
    probability,
    delay: duration(`${at}.delay`, rule.delay, delayDefault),
    jitter: duration(`${at}.jitter`, rule.jitter, FAULT_DEFAULTS.jitter),
    status,
    chunks,
  });
}

/** The rule the trigger header's fault gets when no rule of the user's matches: the fault's defaults. */
export function defaultRule(fault: ChaosFault): ResolvedChaosRule {
  return resolveRule({ fault }, 0);
}

const rulesCheck: OptionCheck<readonly ResolvedChaosRule[]> = (value, fail) => {
  if (!Array.isArray(value)) return fail('an array of rules');
  return Object.freeze(value.map((rule, index) => resolveRule(rule, index)));
};

const headerCheck = check.string(/^[a-z0-9!#$%&'*+.^_`|~-]+$/i, 'a header name (letters, digits, -)');

/**
 * Checks the options of {@link chaos} and fills in defaults. Throws an
 * InvalidOptionError on any unknown, mistyped or out-of-range option, and when
 * chaos is enabled with `allowInProduction` but no `secret`.
 */
export function resolveOptions(input?: ChaosOptions): ResolvedChaosOptions {
  const options = resolve<ResolvedChaosOptions>(PACKAGE, input, DEFAULTS, {
    enabled: check.boolean(),
    rules: rulesCheck,
    triggers: check.arrayOf(check.oneOf<ChaosFault>(...CHAOS_FAULTS), `an array of faults from ${CHAOS_FAULTS.join(', ')}`),
    header: (value, fail) => headerCheck(value, fail).toLowerCase(),
    responseHeader: (value, fail) => headerCheck(value, fail).toLowerCase(),
    allowInProduction: check.boolean(),
    secret: (value) => {
      if (typeof value === 'string' && value.length >= MIN_SECRET_LENGTH && /^[\x21-\x7e]+$/.test(value) && !value.includes(';')) return value;
      // A rejected secret may still be a real one: the error never shows it.
      const received = typeof value === 'string' ? `a string of ${value.length} characters (not shown)` : value;
      return fail('secret', `a string of at least ${MIN_SECRET_LENGTH} printable characters, without spaces or ';'`, received);
    },
    logger: check.logger<Logger | undefined>(),
    random: check.function<() => number>(),
  });
  if (options.enabled && options.allowInProduction && options.secret === undefined) {
    fail('secret', 'set when chaos is enabled with allowInProduction (the trigger header must carry it)', undefined);
  }
  return options;
}
