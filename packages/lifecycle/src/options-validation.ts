/**
 * Option checking shared by every keel factory: a bad option throws when the
 * factory is called (at `app.use()` time), naming the package, the option, what
 * was expected and what came.
 */

/** Thrown by a keel factory given an unknown, mistyped or out-of-range option. */
export class InvalidOptionError extends TypeError {
  /** Stable code of every option error. */
  readonly code = 'ERR_KEEL_INVALID_OPTION';
  constructor(
    /** The package whose factory rejected the option, e.g. `@keel/timeout`. */
    readonly packageName: string,
    /** The option's name, dotted for nested options. */
    readonly option: string,
    /** What the option accepts, in words. */
    readonly expected: string,
    /** The value that came. */
    readonly received: unknown,
  ) {
    super(`${packageName}: option "${option}" must be ${expected}; received ${describeValue(received)}`);
    this.name = 'InvalidOptionError';
  }
}

/** Returns true for an {@link InvalidOptionError}, duck-typed by its `code`. */
export function isInvalidOptionError(value: unknown): value is InvalidOptionError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_INVALID_OPTION';
}

/** A short, safe description of a value for error messages (never its full contents). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') {
    try {
      return `a function${typeof value.name === 'string' && value.name ? ` (${value.name})` : ''}`;
    } catch {
      return 'a function';
    }
  }
  if (typeof value === 'symbol') return 'a symbol';
  // A thrown value may be a revoked Proxy or have a throwing `constructor` getter: describing it must not throw.
  try {
    if (Array.isArray(value)) return `an array of length ${value.length}`;
    const ctor = (value as object).constructor as { name?: unknown } | undefined;
    const name = typeof ctor === 'function' && ctor !== Object ? ctor.name : undefined;
    return `an object${typeof name === 'string' && name.length > 0 ? ` (${name})` : ''}`;
  } catch {
    return 'an object';
  }
}

/** Checks one option's value and returns it, possibly converted (e.g. `'5s'` to 5000). */
export type OptionCheck<T> = (value: unknown, fail: (expected: string) => never) => T;

/** One check per option: the keys are the only options the factory accepts. */
export type OptionSchema<T> = { readonly [K in keyof T]-?: OptionCheck<T[K]> };

/**
 * Copies `input` over `defaults` into a new frozen object, checking every key
 * against `schema`. Unknown keys throw (a typo is an error); the caller's object
 * is never written to.
 */
export function resolveOptions<T extends object>(
  packageName: string,
  input: unknown,
  defaults: Readonly<T>,
  schema: OptionSchema<T>,
): Readonly<T> {
  if (input === undefined) input = {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidOptionError(packageName, 'options', 'an object or undefined', input);
  }
  const resolved: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(input)) {
    if (!Object.prototype.hasOwnProperty.call(schema, key)) {
      throw new InvalidOptionError(packageName, key, `one of the known options (${Object.keys(schema).join(', ')})`, 'an unknown option');
    }
    const value = (input as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const check = (schema as Record<string, OptionCheck<unknown>>)[key]!;
    resolved[key] = check(value, (expected) => {
      throw new InvalidOptionError(packageName, key, expected, value);
    });
  }
  return Object.freeze(resolved) as Readonly<T>;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration: a number of milliseconds, or a string such as `'250ms'`,
 * `'5s'`, `'1.5m'`, `'1h'`. Returns `undefined` for anything else.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']!;
}

/** Ready-made checks for {@link OptionSchema} entries. */
export const check = {
  /** A boolean. */
  boolean(): OptionCheck<boolean> {
    return (value, fail) => (typeof value === 'boolean' ? value : fail('a boolean'));
  },
  /** A finite number within `[min, max]`, optionally an integer. */
  number(min: number, max: number, integer = false): OptionCheck<number> {
    return (value, fail) => {
      const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value));
      return ok ? (value as number) : fail(`${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    };
  },
  /** A duration in milliseconds (number or `'5s'`-style string) within `[min, max]` ms. */
  duration(min: number, max: number): OptionCheck<number> {
    return (value, fail) => {
      const ms = parseDuration(value);
      return ms !== undefined && ms >= min && ms <= max ? ms : fail(`a duration from ${min} ms to ${max} ms (a number of ms, or a string like '5s')`);
    };
  },
  /** A non-empty string, optionally matching `pattern`. */
  string(pattern?: RegExp, description = 'a non-empty string'): OptionCheck<string> {
    return (value, fail) => (typeof value === 'string' && value.length > 0 && (!pattern || pattern.test(value)) ? value : fail(description));
  },
  /** One of the listed values. */
  oneOf<V extends string | number | boolean>(...values: V[]): OptionCheck<V> {
    return (value, fail) => (values.includes(value as V) ? (value as V) : fail(`one of ${values.map((v) => JSON.stringify(v)).join(', ')}`));
  },
  /** A function. */
  function<F extends (...args: any[]) => unknown>(): OptionCheck<F> {
    return (value, fail) => (typeof value === 'function' ? (value as F) : fail('a function'));
  },
  /** An array whose every item passes `item`; returned frozen. */
  arrayOf<V>(item: OptionCheck<V>, description: string, minLength = 0): OptionCheck<readonly V[]> {
    return (value, fail) => {
      if (!Array.isArray(value) || value.length < minLength) return fail(description);
      return Object.freeze(value.map((entry) => item(entry, () => fail(description))));
    };
  },
  /** A logger with `error`, `warn` and `info` methods (winston, pino, console all fit). */
  logger<L>(): OptionCheck<L> {
    return (value, fail) => {
      const candidate = value as Record<string, unknown> | null;
      const ok = typeof candidate === 'object' && candidate !== null && ['error', 'warn', 'info'].every((level) => typeof candidate[level] === 'function');
      return ok ? (value as L) : fail('a logger with error(), warn() and info() methods');
    };
  },
  /** Either of two checks. */
  either<A, B>(first: OptionCheck<A>, second: OptionCheck<B>, description: string): OptionCheck<A | B> {
    return (value, fail) => {
      try {
        return first(value, () => { throw new Error('no'); });
      } catch {
        return second(value, () => fail(description));
      }
    };
  },
  /** Anything the caller vouches for (checked elsewhere). */
  any<V>(): OptionCheck<V> {
    return (value) => value as V;
  },
};
